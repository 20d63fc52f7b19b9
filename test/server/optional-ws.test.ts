import { afterAll, expect, it, vi } from 'vitest';
import { createPgliteStore, createSyncServer, type Logger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { rawExchange } from './raw-http.ts';

/**
 * `ws` is an optional peer of the server (the live channel). A server that
 * cannot load it says so when it starts, not first when a client tries the
 * live channel, and upgrades are refused with 503 and the reason.
 */

// A `ws` that cannot serve (as a missing or broken install): the live channel is off.
vi.mock('ws', () => ({}));

let store: LogStore | undefined;
let server: SyncServer | undefined;
afterAll(async () => {
  await server?.close();
  await store?.close();
});

it('a server that cannot load ws warns at start, and refuses live upgrades with 503 live-unavailable', async () => {
  const warnings: string[] = [];
  const logger: Logger = { info() {}, error() {}, warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) };
  store = await createPgliteStore();
  server = createSyncServer({ store, logger, closeStore: false, limits: { rateLimit: false } });
  const { url } = await server.listen(0);
  // Said at the start, before any client tried the live channel.
  await vi.waitFor(() => expect(warnings.some((w) => w.startsWith('live channel off'))).toBe(true));

  const reply = await rawExchange(
    url,
    'GET /v1/logs/shop/live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  expect(reply.status).toBe(503);
  expect(reply.json).toMatchObject({ error: { code: 'UNAVAILABLE', details: { reason: 'live-unavailable' } } });
});
