import { describe, expect, it } from 'vitest';
import { errorOf, freshLog, httpPull, makeEvent, makePush, okPull, type HttpReply, pgliteServerForFile } from './helpers.ts';

/**
 * docs/protocol.md, Bytes: bodies are UTF-8, and a body that is not is 400, never read with U+FFFD
 * in place of its bad bytes (an encoded lone surrogate ED A0 80, an overlong NUL C0 80, a stray FF):
 * that would store another value than the one sent, and make two different ids one.
 */
const served = pgliteServerForFile();

/** A push whose JSON text has `bytes` spliced in where the marker string is. */
async function pushWithBytes(log: string, where: 'data' | 'id', bytes: number[]): Promise<HttpReply<unknown>> {
  const event = makeEvent({
    clientId: 'c1',
    clientSeq: 1,
    aggregateId: 'o1',
    seq: 1,
    id: where === 'id' ? 'id-MARK' : 'e1',
    data: { s: 'MARK' },
  });
  const text = JSON.stringify(makePush('c1', 1, [event]));
  const [before, after] = text.split(where === 'id' ? 'id-MARK' : '"s":"MARK"') as [string, string];
  const middle = where === 'id' ? [Buffer.from('id-'), Buffer.from(bytes)] : [Buffer.from('"s":"'), Buffer.from(bytes), Buffer.from('"')];
  const body = Buffer.concat([Buffer.from(before), ...middle, Buffer.from(after)]);
  const response = await fetch(`${served.url}/v1/logs/${log}/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, headers: response.headers, body: await response.json() } as HttpReply<unknown>;
}

describe('a push body that is not valid UTF-8', () => {
  for (const [name, bytes] of [
    ['an encoded lone surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['an overlong NUL (C0 80)', [0xc0, 0x80]],
    ['a stray FF byte', [0xff]],
  ] as const) {
    it(`${name} in data: 400 BAD_REQUEST, nothing stored (not stored as U+FFFD)`, async () => {
      const log = freshLog('utf8');
      const reply = await pushWithBytes(log, 'data', [...bytes]);
      const page = okPull(await httpPull(served.url, log, { after: 0 }));
      expect(page.events.map((e) => e.data)).toEqual([]);
      expect(errorOf(reply)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    });
  }

  it('an invalid byte in an event id: 400, not stored as id-U+FFFD (other bad bytes would collide with it)', async () => {
    const log = freshLog('utf8');
    const first = await pushWithBytes(log, 'id', [0xff]);
    expect(first.status).toBe(400);
  });
});
