import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkChunkedOnly } from '../../src/server/http/body.ts';
import { cutText, describeClientValue, jsonTypeOf, SHOWN_CHARS } from '../../src/server/http/client-value.ts';
import { checkVersion } from '../../src/server/http/push-decode.ts';
import { zodDetails } from '../../src/server/http/zod-details.ts';
import { SyncError } from '../../src/server/errors.ts';

/** A value nested `levels` deep, as JSON.parse makes it from a body (JSON.stringify of it overflows the stack). */
const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

/** What `check` throws, or undefined. */
function thrown(check: () => void): unknown {
  try {
    check();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('client values in error replies', () => {
  it('jsonTypeOf names the JSON type, and a field the body lacks', () => {
    expect([1, 'a', true, null, [], {}, undefined].map(jsonTypeOf)).toEqual([
      'number',
      'string',
      'boolean',
      'null',
      'array',
      'object',
      'missing',
    ]);
  });

  it('describeClientValue is bounded whatever the value', () => {
    expect(describeClientValue(3)).toBe('3');
    expect(describeClientValue(false)).toBe('false');
    expect(describeClientValue(null)).toBe('null');
    expect(describeClientValue(undefined)).toBe('nothing');
    expect(describeClientValue('2')).toBe('the string "2"');
    expect(describeClientValue(nested(100_000))).toBe('an array');
    expect(describeClientValue({ a: nested(100_000) })).toBe('an object');
    const long = describeClientValue('x'.repeat(4_000_000));
    expect(long).toBe(`the string "${'x'.repeat(SHOWN_CHARS)}…" (4000000 characters)`);
  });

  it('cutText keeps short text as it is and marks a cut', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('abcd', 3)).toBe('abc…');
  });
});

describe('checkVersion', () => {
  it('passes a supported version', () => {
    expect(thrown(() => checkVersion({ protocolVersion: 2 }, [1, 2]))).toBeUndefined();
  });

  it.each([
    ['nested 100,000 deep', nested(100_000), null, 'array'],
    ['a string of 4 MB', 'x'.repeat(4_000_000), null, 'string'],
    ['an unsupported number', 3, 3, 'number'],
    ['missing', undefined, null, 'missing'],
  ])('refuses %s with UNSUPPORTED_PROTOCOL in a bounded error', (_what, version, received, receivedType) => {
    const error = thrown(() => checkVersion({ protocolVersion: version }, [1, 2]));
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_PROTOCOL', details: { supported: [1, 2], received, receivedType } });
    expect(JSON.stringify((error as SyncError).toBody()).length).toBeLessThan(400);
  });
});

describe('zodDetails', () => {
  it('cuts paths and messages that hold a client key, keeping the start of the path', () => {
    const key = 'k'.repeat(1_000_000);
    const { message, details } = zodDetails([
      { path: ['events', 3, 'data', key], message: 'has a lone surrogate' },
      { path: [], message: `Unrecognized key: "${key}"` },
    ]);
    expect(details.field).toBe(`events.3.data.${'k'.repeat(200 - 'events.3.data.'.length)}…`);
    expect(JSON.stringify(details).length).toBeLessThan(1_000);
    expect(message.length).toBeLessThan(500);
  });

  it('leaves short paths and messages as they are', () => {
    expect(zodDetails([{ path: ['events', 1, 'meta', 'clientSeq'], message: 'must be 2' }])).toEqual({
      message: 'events.1.meta.clientSeq: must be 2',
      details: { issues: [{ path: 'events.1.meta.clientSeq', message: 'must be 2' }], field: 'events.1.meta.clientSeq' },
    });
  });
});

describe('checkChunkedOnly', () => {
  const request = (transferEncoding: string | undefined): IncomingMessage =>
    ({ headers: transferEncoding === undefined ? {} : { 'transfer-encoding': transferEncoding } }) as IncomingMessage;

  it.each([[undefined], ['chunked'], ['Chunked']])('takes %j', (transferEncoding) => {
    expect(thrown(() => checkChunkedOnly(request(transferEncoding)))).toBeUndefined();
  });

  it.each([
    ['gzip, chunked', 'gzip, chunked'],
    ['deflate, chunked', 'deflate, chunked'],
    ['identity, chunked', 'identity, chunked'],
    ['a coding of 500 characters', `${'x'.repeat(500)}, chunked`],
  ])('refuses %s with 415 naming the header', (_what, transferEncoding) => {
    expect(thrown(() => checkChunkedOnly(request(transferEncoding)))).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      status: 415,
      details: { reason: 'unsupported-transfer-encoding', header: 'transfer-encoding', received: transferEncoding.slice(0, 100) },
    });
  });
});
