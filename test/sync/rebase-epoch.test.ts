import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { logOf, openClient } from './harness.ts';

/**
 * Issue 10, point 8: the rebase hole. A client renumbers its pending events
 * after a definite refusal; a copy of its earlier push, still travelling
 * (a slow proxy, a load balancer's retry to another server process), arrives
 * afterwards. Without a fence, that copy is judged by the old numbering and
 * stored, and the server ends up holding an event the client reported as
 * rejected. With the rebase epoch the copy is refused (STALE_EPOCH).
 *
 * Two server processes share one store, with different limits (as during a
 * configuration rollout): the strict one refuses one event for good, the
 * lenient one would take it.
 */

const tokens = { 'test-token': { read: '*' as const, write: '*' as const } };
let store: LogStore;
let strict: SyncServer;
let lenient: SyncServer;
let strictUrl: string;
let lenientUrl: string;

beforeAll(async () => {
  store = await createPgliteStore();
  strict = createSyncServer({
    store,
    logger: silentLogger,
    closeStore: false,
    auth: { tokens },
    limits: { maxEventBytes: 600, rateLimit: false },
  });
  lenient = createSyncServer({ store, logger: silentLogger, closeStore: false, auth: { tokens }, limits: { rateLimit: false } });
  strictUrl = (await strict.listen(0)).url;
  lenientUrl = (await lenient.listen(0)).url;
});
afterAll(async () => {
  await strict.close();
  await lenient.close();
  await store.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe('the rebase epoch', () => {
  it('a copy of a push made before the client renumbered, delivered after, is refused and stores nothing', async () => {
    let held: { path: string; init: RequestInit } | undefined;
    let copyReply: { status: number; code?: string | undefined } | undefined;
    let pushes = 0;
    // The first push goes to the strict server; a copy of it is held, and delivered to the lenient server
    // just before the client's next push (after the client has handled the refusal).
    const route: typeof fetch = async (input, init) => {
      const path = String(input).slice(lenientUrl.length);
      if (path.endsWith('/push')) {
        pushes++;
        if (pushes === 1) {
          held = { path, init: { ...init } };
          return fetch(`${strictUrl}${path}`, init);
        }
        if (held) {
          const copy = held;
          held = undefined;
          const reply = await fetch(`${lenientUrl}${copy.path}`, copy.init);
          const body = (await reply.json()) as { error?: { code?: string } };
          copyReply = { status: reply.status, code: body.error?.code };
        }
      }
      return fetch(input, init);
    };
    const a = await openClient(lenientUrl, { fetch: route, log: 'epoch-log' });
    try {
      await a.sync.pause();
      await a.append('e-1', [item('first'), item('x'.repeat(1000)), item('third')]);
      await a.sync.resume();
      await a.sync.syncNow();

      const rejected = await a.sync.rejected();
      expect(rejected.map((r) => [r.code, (r.event.data as { sku: string }).sku.length])).toEqual([['PAYLOAD_TOO_LARGE', 1000]]);
      // The stale copy arrived after the renumbering and was refused.
      expect(copyReply).toEqual({ status: 409, code: 'STALE_EPOCH' });
      // The server holds exactly what the client holds: the rejected event is nowhere.
      const page = await store.pull('epoch-log', { after: 0, limit: 100 });
      const stored = page.eventsJson.map((json) => JSON.parse(json) as { id: string; seq: number; data: { sku: string } });
      expect(stored.map((e) => [e.seq, e.data.sku])).toEqual([
        [1, 'first'],
        [2, 'third'],
      ]);
      expect(stored.map((e) => e.id)).not.toContain(rejected[0]!.id);
      expect((await logOf(a)).map((e) => [e.seq, e.position])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      expect((await a.sync.status()).pending).toBe(0);
    } finally {
      await a.dispose();
    }
  });
});
