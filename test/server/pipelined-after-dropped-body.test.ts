import { describe, expect, it } from 'vitest';
import { converse } from './raw-http.ts';
import { pgliteServerForFile } from './helpers.ts';

// A keep-alive client whose refused push body ends and whose next request follows at once (pipelined):
// if Node refuses that next request itself (HTTP it cannot parse), it still gets the protocol's 400 with
// its error body (docs/protocol.md), not a silent close. Only Node's own timeout of the request the server
// answered already goes unanswered (slow-body-one-reply.test.ts).
const served = pgliteServerForFile();

const BAD = 'NOT A REQUEST\r\n\r\n';

describe('a request Node refuses, right after a body the server dropped', () => {
  it('control: on a fresh connection it gets the protocol 400', async () => {
    const text = await converse(served.url, [{ text: BAD, afterMs: 0 }], 3_000);
    expect(text).toMatch(/^HTTP\/1\.1 400/);
  });

  it('pipelined after the rest of a refused push body, it still gets its 400 (not a silent close)', async () => {
    const head = 'POST /v1/logs/a/push HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n12345';
    const text = await converse(
      served.url,
      [
        { text: head, afterMs: 0 },
        // the 415 is sent meanwhile; then the rest of the body and, in the same write, the next request
        { text: `67890${BAD}`, afterMs: 300 },
      ],
      3_000,
    );
    const statusLines = text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    expect(statusLines[0]).toMatch(/HTTP\/1\.1 4\d\d/);
    expect(statusLines).toEqual([statusLines[0], 'HTTP/1.1 400']);
  });
});
