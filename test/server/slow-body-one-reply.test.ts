import { describe, expect, it } from 'vitest';
import { converse } from './raw-http.ts';
import { pgliteServerForFile } from './helpers.ts';

/**
 * One request, one reply. A push whose body is slow gets 408 REQUEST_TIMEOUT from its handler
 * (timeouts.bodyMs, from when the headers were parsed), and the server then drops the rest of the
 * body (up to drainMs). Node's own request timeout (headersMs + bodyMs, from the start of the
 * request) may fire meanwhile on the same, still incomplete, request: it must not write a second,
 * unasked-for 408, which a keep-alive client would read as the reply to its next request.
 * docs/protocol.md: then the connection stays usable or, past the bound, is closed.
 *
 * headersMs 2 s (below the default drainMs, 5 s) and bodyMs 3 s make it happen on every slow body;
 * with the defaults it happens when a request's headers took more than about 16 s.
 */
const served = pgliteServerForFile({ timeouts: { headersMs: 2_000, bodyMs: 3_000 } });

describe('a slow push body', () => {
  it('gets exactly one 408 reply, not a second unsolicited one on the same connection', async () => {
    // The headers arrive at once; the body trickles (a byte every 200 ms) and never completes.
    const headerLines = ['POST /v1/logs/slow/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'];
    const body = Array.from({ length: 60 }, () => ' ');
    const text = await converse(
      served.url,
      [...headerLines, ...body].map((text, i) => ({ text, afterMs: i === 0 ? 0 : 200 })),
      20_000,
    );
    const statusLines = text.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];
    expect(statusLines[0]).toMatch(/^HTTP\/1\.1 408/);
    expect(statusLines).toHaveLength(1);
  }, 30_000);
});
