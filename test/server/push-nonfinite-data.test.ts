import { describe, expect, it } from 'vitest';
import { errorOf, freshLog, httpPull, httpPush, makeEvent, makePush, okPull, pgliteServerForFile } from './helpers.ts';

/**
 * docs/protocol.md, "The event": data must be storable, and comes back on pull as the same JSON
 * value. A number literal too large for a double (1e400) parses to Infinity, which JSON.stringify
 * would store as null: the push is refused instead, on both decoding paths.
 */
const served = pgliteServerForFile();

/** The push body as text, with `data` replaced by raw JSON text (numbers JSON.stringify cannot write). */
function bodyWithRawData(clientId: string, rawData: string, padding = 0): string {
  const push = makePush(clientId, 1, [
    makeEvent({ clientId, clientSeq: 1, aggregateId: 'o1', seq: 1, data: { __RAW__: 1, pad: 'p'.repeat(padding) } }),
  ]);
  return JSON.stringify(push).replace('{"__RAW__":1,', `{${rawData},`);
}

describe('non-finite numbers in data (1e400 parses to Infinity)', () => {
  it('a push whose data holds 1e400 is 400 BAD_REQUEST naming the field, and nothing is stored', async () => {
    const log = freshLog('inf');
    const reply = await httpPush(served.url, log, bodyWithRawData('c1', '"x":1e400'));
    const stored = okPull(await httpPull(served.url, log, { after: 0, clientId: 'c1' }));
    expect({ head: stored.head, clientSeq: stored.clientSeq, data: stored.events[0]?.data }).toEqual({
      head: 0,
      clientSeq: 0,
      data: undefined,
    });
    expect(errorOf(reply)).toMatchObject({ status: 400, code: 'BAD_REQUEST', details: { field: 'events.0.data.x' } });
  });

  it('the same on the decoder-thread path (a body of 32 KiB or more)', async () => {
    const log = freshLog('inf');
    const reply = await httpPush(served.url, log, bodyWithRawData('c2', '"x":-1e999', 40_000));
    expect(reply.status).toBe(400);
    expect(okPull(await httpPull(served.url, log, { after: 0 })).head).toBe(0);
  });
});
