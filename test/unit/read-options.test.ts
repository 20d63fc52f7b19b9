// What reads are asked with (src/client/read-options.ts): a NaN, a negative seq or a string where a
// number belongs is refused with a ValidationError naming the option, before anything is read.
// Before, readStream({ fromSeq: NaN }) read an existing stream as empty and fromSeq -5 as whole.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.ts';
import { checkLogFilter, checkReplayFilter, checkStreamOptions } from '../../src/client/read-options.ts';

const loose = (value: unknown): never => value as never;

function refusal(run: () => void): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('read options', () => {
  it('accepts what the types describe, and nothing at all', () => {
    expect(() => checkStreamOptions(undefined)).not.toThrow();
    expect(() => checkStreamOptions({ fromSeq: 0, toSeq: 12, backwards: true })).not.toThrow();
    expect(() => checkLogFilter(undefined)).not.toThrow();
    expect(() =>
      checkLogFilter({
        aggregateIds: ['o1'],
        types: ['Paid'],
        fromTime: -1.5,
        toTime: Date.now(),
        fromPosition: 1,
        toPosition: 9,
        status: 'confirmed',
        after: { area: 0, page: 3, index: 2 },
      }),
    ).not.toThrow();
    expect(() => checkLogFilter({ after: null })).not.toThrow();
    expect(() => checkReplayFilter({ aggregateId: 'o1', types: ['Paid'], fromTime: 0 })).not.toThrow();
  });

  it('refuses a seq that is NaN, negative, fractional or not a number, naming the option and the value', () => {
    expect(refusal(() => checkStreamOptions({ fromSeq: Number.NaN }))).toMatchObject({
      path: 'fromSeq',
      reason: 'must be a non-negative integer (got NaN)',
    });
    expect(refusal(() => checkStreamOptions({ fromSeq: -5 })).path).toBe('fromSeq');
    expect(refusal(() => checkStreamOptions({ toSeq: 2.5 })).path).toBe('toSeq');
    expect(refusal(() => checkStreamOptions(loose({ fromSeq: '2' }))).reason).toBe('must be a non-negative integer (got "2")');
    expect(refusal(() => checkStreamOptions(loose({ backwards: 'yes' }))).path).toBe('backwards');
    expect(refusal(() => checkStreamOptions(loose(7))).path).toBe('options');
  });

  it('refuses a log filter with a time that is not finite, a bad position, list, status or cursor', () => {
    expect(refusal(() => checkLogFilter({ fromTime: Number.NaN })).path).toBe('fromTime');
    expect(refusal(() => checkLogFilter({ toTime: Infinity })).path).toBe('toTime');
    expect(refusal(() => checkLogFilter({ fromPosition: -1 })).path).toBe('fromPosition');
    expect(refusal(() => checkLogFilter(loose({ types: 'Paid' }))).path).toBe('types');
    expect(refusal(() => checkLogFilter(loose({ aggregateIds: ['o1', 2] }))).path).toBe('aggregateIds[1]');
    expect(refusal(() => checkLogFilter(loose({ status: 'all' }))).path).toBe('status');
    expect(refusal(() => checkLogFilter(loose({ after: { area: 0, page: Number.NaN, index: 0 } }))).path).toBe('after.page');
    // A misspelt key read the whole log: it is refused, naming the options there are.
    expect(refusal(() => checkLogFilter(loose({ aggregateId: 'o1' })))).toMatchObject({
      path: 'aggregateId',
      reason: 'is not a log filter option (aggregateIds, types, fromTime, toTime, fromPosition, toPosition, after, status) (got "o1")',
    });
    expect(refusal(() => checkReplayFilter({ fromTime: Number.NaN })).path).toBe('fromTime');
    expect(refusal(() => checkReplayFilter(loose({ aggregateId: 5 }))).path).toBe('aggregateId');
  });
});
