// defineEvent / defineAggregate (src/core): an app written in plain JavaScript gets no
// compile-time check, so a definition of the wrong shape must fail at once with a
// TypeError that names what is wrong, not later inside the store.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';

const Sold = defineEvent({ type: 'Sold', schema: z.object({ cents: z.number() }) });
/** A value of any shape, as a JavaScript caller may pass. */
const loose = (value: unknown): never => value as never;
const aggregate = (overrides: Record<string, unknown>) =>
  defineAggregate(
    loose({
      type: 'Till',
      events: [Sold],
      initialState: () => ({ total: 0 }),
      reducers: { Sold: (s: { total: number }) => s },
      ...overrides,
    }),
  );

describe('definitions of the wrong shape', () => {
  it('given defineEvent without an options object, a type or a zod schema, then a TypeError says which', () => {
    expect(() => defineEvent(loose('Sold'))).toThrow(new TypeError('defineEvent({ type, schema }): type must be a non-empty string'));
    expect(() => defineEvent(loose({ type: '', schema: z.object({}) }))).toThrow(/type must be a non-empty string/);
    expect(() => defineEvent(loose({ type: 'Sold' }))).toThrow(new TypeError('defineEvent(Sold): schema must be a zod schema'));
    expect(() => defineEvent(loose({ type: 'Sold', schema: { parse: () => 1 } }))).toThrow(/schema must be a zod schema/);
    expect(() => defineEvent(loose({ type: 'Sold', schema: z.object({}), version: 2 }))).toThrow(
      /version 2 needs an upcaster from version 1/,
    );
  });

  it('given defineAggregate with a missing or wrong part, then a TypeError names the part', () => {
    expect(() => defineAggregate(loose(undefined))).toThrow(/type must be a non-empty string/);
    expect(() => aggregate({ type: 7 })).toThrow(/type must be a non-empty string/);
    expect(() => aggregate({ events: Sold })).toThrow(
      new TypeError('defineAggregate(Till): events must be an array of defineEvent(...) definitions'),
    );
    expect(() => aggregate({ events: [{ type: 'Sold' }] })).toThrow(/events must be an array of defineEvent/);
    expect(() => aggregate({ initialState: { total: 0 } })).toThrow(/initialState must be a function/);
    expect(() => aggregate({ reducers: undefined })).toThrow(/reducers must be an object/);
    expect(() => aggregate({ reducers: {} })).toThrow(new TypeError('defineAggregate(Till): no reducer for event type Sold'));
    expect(() => aggregate({ version: 0 })).toThrow(/version must be a positive integer/);
    expect(aggregate({}).type).toBe('Till');
  });
});
