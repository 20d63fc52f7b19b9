import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';

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
let store: LogStore;
let server: SyncServer;
let url: string;

beforeAll(async () => {
  store = await createPgliteStore();
  server = createSyncServer({
    store,
    logger: silentLogger,
    closeStore: false,
    limits: { rateLimit: false },
    timeouts: { headersMs: 2_000, bodyMs: 3_000 },
  });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  await store.close();
});

/** Writes `parts` `gapMs` apart on one connection; returns everything the server sent until it closed (or `waitMs`). */
function converse(parts: string[], gapMs: number, waitMs: number): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    void (async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

describe('a slow push body', () => {
  it('gets exactly one 408 reply, not a second unsolicited one on the same connection', async () => {
    // The headers arrive at once; the body trickles (a byte every 200 ms) and never completes.
    const headerLines = ['POST /v1/logs/slow/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'];
    const body = Array.from({ length: 60 }, () => ' ');
    const text = await converse([...headerLines, ...body], 200, 20_000);
    const statusLines = text.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];
    expect(statusLines[0]).toMatch(/^HTTP\/1\.1 408/);
    expect(statusLines).toHaveLength(1);
  }, 30_000);
});
