import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore } from '../../src/server/index.ts';
import { sample } from './helpers.ts';
import { recordingLogger } from './recording-logger.ts';

/**
 * A request asking to upgrade to another protocol than WebSocket (`curl --http2` sends `Upgrade: h2c`)
 * reaches the server through Node's 'upgrade' event, on a socket Node's HTTP server no longer tracks,
 * and is answered as plain HTTP/1.1 on a response the server makes itself (live-upgrade.ts). Such a
 * request must end as any other: logged and counted, no longer in flight once answered (else every later
 * close() of the idle server waited the whole shutdown timeout), and its socket closed by the server
 * within a bound; a client that keeps its side of the connection open must not hold close() (it held it
 * forever: the socket was only half-closed, and the listener's close waits for every socket).
 */

const H2C_HEALTH =
  'GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

/** Races `promise` against `ms`: what it resolved to, or `timedOut` (a hang fails the test with a message, not a test timeout). */
function within<T>(promise: Promise<T>, ms: number, timedOut: string): Promise<T | string> {
  return Promise.race([promise, new Promise<string>((resolve) => setTimeout(() => resolve(timedOut), ms).unref())]);
}

let store: LogStore;
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await store.close();
});

describe('a request with Upgrade: h2c, served as HTTP/1.1', () => {
  it('is logged and counted, and once answered no longer holds close() of the idle server', async () => {
    const { logger, lines } = recordingLogger();
    // A long shutdown timeout: a request still counted in flight would hold close() for all of it.
    const server = createSyncServer({
      store,
      logger,
      accessLog: true,
      closeStore: false,
      limits: { rateLimit: false },
      timeouts: { shutdownMs: 5_000 },
    });
    const { port, url } = await server.listen(0);

    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.on('data', (data: Buffer) => (reply += data.toString()));
    socket.write(H2C_HEALTH);
    // The server closes the connection after the reply (Node parses nothing more on an upgraded socket).
    await new Promise((resolve) => socket.once('close', resolve));
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(reply).toMatch(/"status":"ok"/);

    // Its access log line, and its count in the metrics (the /metrics request counts itself only after its reply).
    await expect
      .poll(() => lines.find((l) => l.message === 'request' && l.fields?.action === 'health')?.fields)
      .toMatchObject({
        method: 'GET',
        path: '/health',
        status: 200,
      });
    // Counted when its response has finished, which may come a turn after the log line: polled too.
    await expect
      .poll(async () => sample(await (await fetch(`${url}/metrics`)).text(), 'chronicle_http_requests_total{action="health",status="200"}'))
      .toBe(1);

    const started = performance.now();
    expect(await within(server.close(), 4_000, 'close() still waiting after 4 s')).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 30_000);

  it('close() destroys its socket at once although the client keeps its side of the connection open', async () => {
    const server = createSyncServer({
      store,
      logger: silentLogger,
      closeStore: false,
      limits: { rateLimit: false },
      timeouts: { shutdownMs: 5_000 },
    });
    const { port } = await server.listen(0);
    // allowHalfOpen: the server's FIN does not end this side; the client keeps the connection open.
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let reply = '';
    socket.on('data', (data: Buffer) => (reply += data.toString()));
    socket.on('end', () => undefined);
    socket.on('error', () => undefined);
    socket.write(H2C_HEALTH);
    try {
      await expect.poll(() => reply).toMatch(/"status":"ok"/);
      // The server lingers up to 1 s after a reply on such a socket, reading and dropping what still
      // arrives; close() does not wait for that (nor, as before, forever for the client).
      const started = performance.now();
      expect(await within(server.close(), 4_000, 'close() still waiting after 4 s')).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      socket.destroy();
    }
  }, 30_000);
});
