// store.metrics() (issue 10, point 9, client side): latency windows for appends,
// replay runs and projection catch-ups, and sync lag, pending count and age,
// in both engine modes. The sync cases run against a real sync server: the
// browser project's (test/setup/sync-server.ts), or in Node one started here.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ConcurrencyError, StoreClosedError, ValidationError } from '../../src/core/errors.ts';
import type { StoreMetrics, SyncMetrics } from '../../src/client/index.ts';
import { METRICS_WINDOW } from '../../src/client/metrics.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Revenue } from '../fixtures/model.ts';
import { eventually, modes, openOrderStore } from './modes.ts';

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });
const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  url: string;
  token: string;
}

let started: { close(): Promise<void> } | undefined;
let server: Promise<Server> | undefined;
/** The browser project's sync server, or (in Node) one on an in-memory PGlite store. */
function syncServer(): Promise<Server> {
  server ??= (async () => {
    const url = inject('syncUrl');
    if (url) return { url, token: 'browser-token' };
    // Node only: kept out of the browser's module graph (it needs ws and PGlite).
    const harness = '../sync/harness.ts';
    const { startServer } = (await import(/* @vite-ignore */ harness)) as typeof import('../sync/harness.ts');
    const running = await startServer();
    started = running;
    return { url: running.url, token: 'test-token' };
  })();
  return server;
}
afterAll(async () => {
  await started?.close();
});

let logs = 0;
const freshLog = () => `metrics-${Date.now().toString(36)}-${++logs}-${Math.random().toString(36).slice(2, 6)}`;

/** A token that can be made to wait: `hold()` makes the next request after the given number wait until `release()`. */
function tokenGate(token: string) {
  let countdown = -1;
  let open: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  let reached: () => void = () => undefined;
  return {
    async getToken(): Promise<string> {
      if (countdown === 0) {
        countdown = -1;
        reached();
        await gate;
      } else if (countdown > 0) countdown--;
      return token;
    },
    /** The request after `pass` more requests waits; resolves once it is waiting. */
    hold(pass: number): Promise<void> {
      countdown = pass;
      gate = new Promise<void>((resolve) => (open = resolve));
      return new Promise<void>((resolve) => (reached = resolve));
    },
    release: () => open(),
  };
}

const syncOf = (metrics: StoreMetrics): SyncMetrics => {
  expect(metrics.sync).not.toBeNull();
  return metrics.sync!;
};

function expectOrdered(figures: { p50: number | null; p95: number | null; p99: number | null; max: number | null; mean: number | null }) {
  expect(figures.p50).not.toBeNull();
  expect(figures.p50!).toBeGreaterThanOrEqual(0);
  expect(figures.p95!).toBeGreaterThanOrEqual(figures.p50!);
  expect(figures.p99!).toBeGreaterThanOrEqual(figures.p95!);
  expect(figures.max!).toBeGreaterThanOrEqual(figures.p99!);
  expect(figures.mean!).toBeLessThanOrEqual(figures.max!);
}

describe.each(modes)('store.metrics() ($mode)', ({ worker }) => {
  it('append latency: one sample per append or appendBatch call that committed, none for a refused one', async () => {
    const store = await openOrderStore(worker);
    try {
      const empty = await store.metrics();
      expect(empty.append).toEqual({ count: 0, window: 0, last: null, mean: null, p50: null, p95: null, p99: null, max: null });
      expect(empty.sync).toBeNull();
      expect(empty.takenAt).toBeGreaterThan(0);

      await store.append('o1', [placed('ada'), item('a')]);
      await store.append('o1', [item('b')]);
      await store.appendBatch([
        { aggregateId: 'o2', events: [placed('bob')] },
        { aggregateId: 'o3', events: [placed('cy')] },
      ]);
      const after = await store.metrics();
      expect(after.append.count).toBe(3);
      expect(after.append.window).toBe(3);
      expect(after.append.last).not.toBeNull();
      expectOrdered(after.append);

      await expect(store.append('o1', [item('c')], { expectedVersion: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append('o1', [{ type: 'ItemAdded', data: { sku: '', qty: 0, price: 1 } }])).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect((await store.metrics()).append.count).toBe(3);
    } finally {
      await store.dispose();
    }
  });

  it(`keeps the newest ${METRICS_WINDOW} samples: the count goes on, the window stops there`, async () => {
    const store = await openOrderStore(worker);
    try {
      const calls = METRICS_WINDOW + 76;
      for (let done = 0; done < calls; done += 100) {
        const n = Math.min(100, calls - done);
        await Promise.all(Array.from({ length: n }, (_, i) => store.append(`w-${done + i}`, [placed('x')])));
      }
      const { append } = await store.metrics();
      expect(append.count).toBe(calls);
      expect(append.window).toBe(METRICS_WINDOW);
      expectOrdered(append);
    } finally {
      await store.dispose();
    }
  });

  it('replay runs: completed replay jobs and projection rebuilds, with the events they handled; failed jobs are not samples', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [placed('ada'), item('a'), item('b')]);
      await store.append('o2', [placed('bob'), item('c')]);
      expect((await store.metrics()).replay.count).toBe(0);

      const handled: string[] = [];
      await store.replay({ handler: (event) => void handled.push(event.id) });
      let { replay } = await store.metrics();
      expect(replay.count).toBe(1);
      expect(replay.events).toBe(5);
      expect(replay.events).toBe(handled.length);
      expect(replay.perEventMs).not.toBeNull();
      expect(replay.perEventMs!).toBeCloseTo(replay.last! / 5, 6);

      await store.replay({ filter: { types: ['ItemAdded'] }, handler: () => undefined });
      ({ replay } = await store.metrics());
      expect(replay.count).toBe(2);
      expect(replay.events).toBe(8);

      await expect(
        store.replay({
          handler: () => {
            throw new Error('handler failed');
          },
        }),
      ).rejects.toThrow('handler failed');
      expect((await store.metrics()).replay.count).toBe(2);

      const rebuilt = await store.projection(Revenue).rebuild();
      ({ replay } = await store.metrics());
      expect(replay.count).toBe(3);
      // The rebuild applied the projection's three ItemAdded events (its only handler).
      expect(rebuilt.state.items).toBe(3);
      expect(replay.events).toBe(11);
      expectOrdered(replay);
    } finally {
      await store.dispose();
    }
  });

  it('projection catch-ups: one sample per catch-up that applied events, counting them', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.projection(Revenue).get();
      expect((await store.metrics()).catchUp.count).toBe(0);
      await store.append('o1', [placed('ada'), item('a'), item('b')]);
      await eventually(async () => expect((await store.projection(Revenue).get()).state.items).toBe(2));
      const { catchUp } = await store.metrics();
      expect(catchUp.count).toBeGreaterThanOrEqual(1);
      // Pending events may be folded again (the pending layer), never less than once.
      expect(catchUp.events).toBeGreaterThanOrEqual(2);
      expect(catchUp.perEventMs).not.toBeNull();
      expectOrdered(catchUp);
      // An append the projection has no handler for applies nothing: no sample.
      await store.append('o2', [placed('bob')]);
      await store.projection(Revenue).get();
      expect((await store.metrics()).catchUp.count).toBe(catchUp.count);
    } finally {
      await store.dispose();
    }
  });

  it('metrics.subscribe: a snapshot now, another after appends (throttled to its interval), none after unsubscribe', async () => {
    const store = await openOrderStore(worker);
    try {
      const fast: StoreMetrics[] = [];
      const stopFast = store.metrics.subscribe((m) => fast.push(m), { intervalMs: 0 });
      const slow: StoreMetrics[] = [];
      const stopSlow = store.metrics.subscribe((m) => slow.push(m), { intervalMs: 3_600_000 });
      await eventually(() => expect(fast.length).toBeGreaterThanOrEqual(1));
      await eventually(() => expect(slow.length).toBe(1));
      expect(fast[0]!.append.count).toBe(0);

      await store.append('o1', [placed('ada')]);
      await store.append('o1', [item('a')]);
      await eventually(() => expect(fast.at(-1)!.append.count).toBe(2));
      // The slow one had its snapshot; the next waits for its interval.
      expect(slow).toHaveLength(1);

      stopFast();
      stopSlow();
      const seen = fast.length;
      await store.append('o1', [item('b')]);
      await store.metrics();
      await sleep(50);
      expect(fast).toHaveLength(seen);
      expect(slow).toHaveLength(1);
    } finally {
      await store.dispose();
    }
  });

  it('after close: metrics() rejects and metrics.subscribe throws StoreClosedError', async () => {
    const store = await openOrderStore(worker);
    await store.append('o1', [placed('ada')]);
    await store.dispose();
    await expect(store.metrics()).rejects.toBeInstanceOf(StoreClosedError);
    expect(() => store.metrics.subscribe(() => undefined)).toThrow(StoreClosedError);
  });

  it('sync lag: the events a server has that this client has not pulled, and the time since it last caught up', async () => {
    const { url, token } = await syncServer();
    const log = freshLog();
    const sync = { url, log, live: false, pollIntervalMs: 3_600_000, initialBackoffMs: 50, maxBackoffMs: 200 };
    const writer = await openTestStore({ ...model, worker: false, sync: { ...sync, token } });
    const gate = tokenGate(token);
    const reader = await openTestStore({ ...model, worker, sync: { ...sync, getToken: gate.getToken, pullLimit: 1 } });
    try {
      await eventually(() => reader.sync.syncNow());
      const caughtUp = syncOf(await reader.metrics());
      expect(caughtUp).toMatchObject({
        state: 'online',
        serverHead: 0,
        confirmedPosition: 0,
        lagEvents: 0,
        lagMs: 0,
        pending: 0,
        oldestPendingAt: null,
        oldestPendingAgeMs: null,
      });
      expect(caughtUp.caughtUpAt).not.toBeNull();

      await writer.append('o1', [placed('ada'), item('a'), item('b'), item('c'), item('d')]);
      await eventually(() => writer.sync.syncNow());
      expect((await writer.sync.status()).pending).toBe(0);

      // The reader pulls one event per page; its second pull waits: it knows the head and holds one event.
      const behindSince = Date.now();
      const waiting = gate.hold(1);
      const round = reader.sync.syncNow();
      await waiting;
      const behind = await reader.metrics();
      const lag = syncOf(behind);
      expect(lag).toMatchObject({ state: 'syncing', serverHead: 5, confirmedPosition: 1, lagEvents: 4, pending: 0 });
      // Counted from the last time it held everything, before this round began.
      expect(lag.caughtUpAt).not.toBeNull();
      expect(lag.caughtUpAt!).toBeLessThanOrEqual(behindSince);
      expect(lag.lagMs).toBe(behind.takenAt - lag.caughtUpAt!);

      const releasedAt = Date.now();
      gate.release();
      await round;
      const after = syncOf(await reader.metrics());
      expect(after).toMatchObject({ state: 'online', serverHead: 5, confirmedPosition: 5, lagEvents: 0, lagMs: 0 });
      expect(after.caughtUpAt!).toBeGreaterThanOrEqual(releasedAt);
    } finally {
      gate.release();
      await reader.dispose();
      await writer.dispose();
    }
  });

  it('pending count and the age of the oldest pending event while the server cannot be reached', async () => {
    const store = await openTestStore({
      ...model,
      worker,
      // Nothing listens there (and browsers refuse the port): every round fails as offline.
      sync: {
        url: 'http://127.0.0.1:9',
        log: freshLog(),
        token: 't',
        live: false,
        pollIntervalMs: 3_600_000,
        initialBackoffMs: 3_600_000,
        maxBackoffMs: 3_600_000,
      },
    });
    try {
      await eventually(async () => expect((await store.sync.status()).state).toBe('offline'), 10_000);
      const none = syncOf(await store.metrics());
      expect(none).toMatchObject({
        state: 'offline',
        pending: 0,
        oldestPendingAt: null,
        oldestPendingAgeMs: null,
        caughtUpAt: null,
        lagMs: null,
      });

      const occurredAt = Date.now() - 60_000;
      await store.append('o1', [{ ...placed('ada'), meta: { occurredAt } }, item('a')]);
      await store.append('o1', [item('b')]);
      // Each append wakes sync for a round, which fails again.
      let metrics: StoreMetrics | undefined;
      await eventually(async () => {
        metrics = await store.metrics();
        expect(syncOf(metrics)).toMatchObject({ state: 'offline', pending: 3 });
      }, 10_000);
      const offline = syncOf(metrics!);
      expect(offline).toMatchObject({ oldestPendingAt: occurredAt, lagEvents: 0, lagMs: null });
      expect(offline.oldestPendingAgeMs).toBe(metrics!.takenAt - occurredAt);
      expect(offline.oldestPendingAgeMs!).toBeGreaterThanOrEqual(60_000);
    } finally {
      await store.dispose();
    }
  });

  it('a client that pulled everything but cannot push counts its lag from that pull, not from its last full round', async () => {
    const { url, token } = await syncServer();
    // Refused (401) until told otherwise; then one good token (the pull) and refused again (the push).
    const script: string[] = [];
    const getToken = async () => script.shift() ?? 'not-a-token';
    const store = await openTestStore({
      ...model,
      worker,
      sync: {
        url,
        log: freshLog(),
        getToken,
        live: false,
        pollIntervalMs: 3_600_000,
        initialBackoffMs: 3_600_000,
        maxBackoffMs: 3_600_000,
      },
    });
    try {
      await eventually(async () => expect((await store.sync.status()).lastError?.code).toBe('UNAUTHORIZED'), 10_000);
      expect(syncOf(await store.metrics())).toMatchObject({ state: 'error', caughtUpAt: null, lagMs: null });

      script.push(token);
      const before = Date.now();
      await store.append('o1', [placed('ada')]);
      // An append waits out the failed round's backoff (an hour here); syncNow() tries at once. Its round fails at the push.
      await expect(store.sync.syncNow()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await eventually(async () => expect(syncOf(await store.metrics()).caughtUpAt).not.toBeNull(), 10_000);
      await eventually(async () => expect((await store.sync.status()).state).toBe('error'), 10_000);
      const metrics = await store.metrics();
      const stuck = syncOf(metrics);
      expect((await store.sync.status()).lastSyncAt).toBeNull();
      expect(stuck).toMatchObject({ state: 'error', lagEvents: 0, pending: 1 });
      expect(stuck.caughtUpAt!).toBeGreaterThanOrEqual(before);
      expect(stuck.lagMs).toBe(metrics.takenAt - stuck.caughtUpAt!);
    } finally {
      await store.dispose();
    }
  });
});
