import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import { unreadStore } from './helpers.ts';
import { rawExchange } from './raw-http.ts';

/**
 * A malformed Sec-WebSocket-Protocol on the live path was passed to `ws`,
 * which refused it with a text/html 400 of its own: no error body, no
 * x-request-id, no CORS headers, nothing logged. It is refused before `ws`
 * sees it, as a bad key or version is (docs/protocol.md, Live).
 */

const store = unreadStore();

let server: SyncServer;
let url: string;
let port: number;
beforeAll(async () => {
  server = createSyncServer({ store, logger: silentLogger, metrics: false, closeStore: false, limits: { rateLimit: false } });
  ({ url, port } = await server.listen(0));
});
afterAll(() => server.close());

const handshake = (protocolLine: string): string =>
  'GET /v1/logs/demo/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${protocolLine}\r\n`;

/** The status line and headers of what the server answers first (a 101 keeps the connection open). */
function firstHead(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const bound = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      if (received.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(received.split('\r\n\r\n')[0] ?? '');
    });
    socket.write(bytes);
  });
}

describe('Sec-WebSocket-Protocol on the live path', () => {
  it.each([['a b'], [','], ['a, a'], ['chat,,superchat'], ['chat;v=1']])(
    '%j is 400 bad-websocket-handshake with the error body, x-request-id and CORS headers',
    async (value) => {
      const reply = await rawExchange(url, handshake(`Sec-WebSocket-Protocol: ${value}\r\n`));
      expect(reply.status).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers['x-request-id']).toBeTruthy();
      expect(reply.headers['access-control-allow-origin']).toBe('*');
      expect(reply.json).toMatchObject({
        error: { code: 'BAD_REQUEST', details: { reason: 'bad-websocket-handshake', header: 'sec-websocket-protocol' } },
      });
    },
  );

  it('the same member on two header lines (Node joins them with a comma) is refused too', async () => {
    const reply = await rawExchange(url, handshake('Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n'));
    expect(reply.json).toMatchObject({ error: { details: { header: 'sec-websocket-protocol' } } });
  });

  it('a sound list still opens the socket', async () => {
    expect(await firstHead(handshake('Sec-WebSocket-Protocol: chat, superchat\r\n'))).toMatch(/^HTTP\/1\.1 101 /);
  });
});
