import { describe, expect, it } from 'vitest';
import { freshLog, httpPull, okPull, pgliteServerForFile, TestClient } from './helpers.ts';
import { converse, push, rawExchange } from './raw-http.ts';
import { recordingLogger } from './recording-logger.ts';

/**
 * CONNECT: Node gives it to the server's 'connect' listener, not to the
 * request handler, and destroyed the socket when there was none. The CONNECT
 * got no reply at all, and a push pipelined ahead of it on the connection,
 * stored and logged as 200, never got its reply. This server is not a proxy:
 * 405 with the error body, in its turn (docs/protocol.md, Conventions).
 */

const recorded = recordingLogger();
const served = pgliteServerForFile({ logger: recorded.logger });

/** The status lines in what a connection received, in order (a reply's body has no line end: not anchored). */
const statusLines = (text: string): string[] => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('a CONNECT request', () => {
  it.each([['127.0.0.1:1'], ['/v1/logs/a/pull']])(
    'to %s is 405 with the error body, Allow and x-request-id, and logged',
    async (target) => {
      const reply = await rawExchange(
        served.url,
        `CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1:1\r\nx-request-id: connect-${target.length}\r\n\r\n`,
      );
      expect(reply.status).toBe(405);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers['x-request-id']).toBe(`connect-${target.length}`);
      expect(reply.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
      expect(reply.json).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED', details: { allow: ['GET', 'HEAD', 'POST', 'OPTIONS'] } } });
      await expect
        .poll(() => recorded.lines.find((line) => line.fields?.requestId === `connect-${target.length}`)?.fields)
        .toMatchObject({ method: 'CONNECT', status: 405, code: 'METHOD_NOT_ALLOWED' });
    },
  );

  it('pipelined behind a push: the push gets its 200, then the CONNECT its 405', async () => {
    const log = freshLog('connect');
    const body = JSON.stringify(new TestClient('c1').next(['o1']));
    const started = performance.now();
    const text = await converse(
      served.url,
      [{ text: `${push(log, 'p1', body)}CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`, afterMs: 0 }],
      5_000,
    );
    expect(statusLines(text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 405']);
    expect(text.indexOf('"positions"')).toBeLessThan(text.indexOf('METHOD_NOT_ALLOWED'));
    // Closed by the server after the 405, not by converse's bound.
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(okPull(await httpPull(served.url, log, { after: 0, clientId: 'c1' })).clientSeq).toBe(1);
  });
});
