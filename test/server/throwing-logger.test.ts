// The app's logger is called from event handlers and timers (a request's end, an unread reply, a live socket's
// drain watch, an accept error): one that throws there (its disk full, a bug in it) would end the process for
// every client. The server keeps serving, and the lines are lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, type Logger, type SyncServer } from '../../src/server/index.ts';
import { freshLog, httpPull } from './helpers.ts';

let server: SyncServer;
let url = '';
let calls = 0;
/** Set once the server listens: what is tested is a throw from the calls made while serving. */
let armed = false;
const throwing: Logger = {
  info: () => {
    calls++;
    if (armed) throw new Error('log disk full');
  },
  warn: () => {
    calls++;
    if (armed) throw new Error('log disk full');
  },
  error: () => {
    calls++;
    if (armed) throw new Error('log disk full');
  },
};

beforeAll(async () => {
  const store = await createPgliteStore();
  server = createSyncServer({ store, logger: throwing, accessLog: true, limits: { rateLimit: false } });
  const { port } = await server.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${port}`;
  armed = true;
});
afterAll(async () => {
  await server?.close();
});

describe('a logger that throws', () => {
  it('is called, and the server answers every request all the same', async () => {
    const log = freshLog('throwing-logger');
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await httpPull(url, log, { after: 0 })).status).toBe(200);
    }
    // Not found, and an error reply: more lines the logger refuses.
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBeGreaterThan(0);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });
});
