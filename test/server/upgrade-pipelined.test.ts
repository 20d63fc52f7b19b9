import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import { unreadStore } from './helpers.ts';

/**
 * An upgrade request (Upgrade: h2c from `curl --http2`, or a WebSocket
 * handshake) may come pipelined behind other requests on one connection, all
 * in one packet. Node emits 'upgrade' as soon as it has parsed it, while the
 * replies to the requests before it are still being made. The server answered
 * it at once: for h2c, a ServerResponse of its own that Node refused the
 * socket (ERR_HTTP_SOCKET_ASSIGNED, thrown in the 'upgrade' listener: the
 * process died, for one packet from anyone, no credentials needed); for a
 * refused WebSocket upgrade, its error reply written before the earlier
 * request's reply, so the client read the refusal as that request's answer
 * (and the earlier reply was lost when the connection closed).
 */

const store = unreadStore();

const servers: SyncServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(): Promise<{ port: number; url: string }> {
  const server = createSyncServer({ store, logger: silentLogger, metrics: false, closeStore: false, limits: { rateLimit: false } });
  servers.push(server);
  return server.listen(0);
}

/**
 * Writes `bytes` in one write on a new connection; everything the server sends until it closes the
 * connection (a bound of 5 s: a server that never answers fails the assertions, not the test's timeout).
 */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const bound = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(received);
    });
    socket.write(bytes);
  });
}

/** The status lines in what a connection received, in order. */
const statusLines = (received: string): string[] => received.match(/HTTP\/1\.1 \d{3}/g) ?? [];

const HEALTH = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';

describe('an upgrade request pipelined behind a request still being answered', () => {
  it('Upgrade: h2c is answered after it, and the server lives on', async () => {
    const { port, url } = await start();
    const h2c =
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

    const received = await exchange(port, HEALTH + h2c);

    expect(statusLines(received)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(received.match(/"status":"ok"/g)).toHaveLength(2);
    // Still serving.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('a refused WebSocket upgrade gets its refusal after the reply ahead of it', async () => {
    const { port } = await start();
    const websocket =
      'GET /v1/logs/demo/nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

    const received = await exchange(port, HEALTH + websocket);

    expect(statusLines(received)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 404']);
    expect(received.indexOf('"status":"ok"')).toBeLessThan(received.indexOf('NOT_FOUND'));
  });

  it('an accepted WebSocket upgrade is switched after the reply ahead of it', async () => {
    const { port } = await start();
    const websocket =
      'GET /v1/logs/demo/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

    const received = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.on('data', (data: Buffer) => {
        text += data.toString('latin1');
        // The 101 and the hello frame after it: enough to see the order.
        if (/HTTP\/1\.1 101[\s\S]*"hello"/.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(HEALTH + websocket);
    });

    expect(statusLines(received)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 101']);
  });
});
