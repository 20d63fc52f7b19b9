import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/core/protocol.ts';
import { freshLog, httpPull, okPull, pgliteServerForFile, TestClient } from './helpers.ts';
import { rawExchange } from './raw-http.ts';

/**
 * A transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`):
 * Node undoes the chunked framing only, and the body was read still coded: a
 * plain push labelled deflate was stored, and a gzipped one refused as not
 * UTF-8, a 400 naming no field, which makes a client split its push and in the
 * end reject valid events. Both are 415, as a Content-Encoding is
 * (docs/protocol.md, Conventions): retried, nothing rejected, nothing stored.
 */

const served = pgliteServerForFile();

/** A POST with its body in one chunk under `transferEncoding`, on a connection the server closes after its reply. */
function chunkedPost(log: string, action: 'push' | 'fence', transferEncoding: string, body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `POST /v1/logs/${log}/${action} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: ${transferEncoding}\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n`,
    ),
    body,
    Buffer.from('\r\n0\r\n\r\n'),
  ]);
}

describe('Transfer-Encoding', () => {
  it('a coding other than chunked is 415 naming the header, on push and fence, before the body is read; nothing is stored', async () => {
    const log = freshLog('te');
    const push = Buffer.from(JSON.stringify(new TestClient('te').next(['o1'])));
    const fence = Buffer.from(JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'te', epoch: 1 }));
    const cases: ['push' | 'fence', string, Buffer][] = [
      ['push', 'gzip, chunked', gzipSync(push)],
      ['push', 'deflate, chunked', push],
      ['push', 'GZIP, chunked', push],
      ['fence', 'gzip, chunked', gzipSync(fence)],
    ];
    for (const [action, transferEncoding, body] of cases) {
      const reply = await rawExchange(served.url, chunkedPost(log, action, transferEncoding, body));
      expect(reply.status, `${action} ${transferEncoding}`).toBe(415);
      expect(reply.headers['x-request-id']).toBeTruthy();
      expect(reply.json).toMatchObject({
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          details: {
            reason: 'unsupported-transfer-encoding',
            header: 'transfer-encoding',
            expected: 'chunked',
            received: transferEncoding,
          },
        },
      });
    }
    const page = okPull(await httpPull(served.url, log, { after: 0, clientId: 'te' }));
    expect({ head: page.head, clientSeq: page.clientSeq }).toEqual({ head: 0, clientSeq: 0 });
  });

  it('chunked alone is a plain body: the push is stored', async () => {
    const log = freshLog('te');
    const push = Buffer.from(JSON.stringify(new TestClient('te').next(['o1'])));
    const reply = await rawExchange(served.url, chunkedPost(log, 'push', 'chunked', push));
    expect(reply.status).toBe(200);
  });
});
