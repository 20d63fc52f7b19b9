// Issue 9: crash points. A tab's engine (its worker) is killed at many points
// of an append, a replay job and a reaction's delivery; after each, the log
// and the deliveries per event id are counted: at most one extra delivery,
// flagged, and only where the rule allows it.
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/client/index.ts';
import { defineReaction, type ReactionContext } from '../../src/core/reaction.ts';
import { deleteTestDatabase, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';

const item = (sku: string, id?: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 }, ...(id ? { id } : {}) });

interface Delivery {
  id: string;
  redelivery: boolean;
  crash: number;
}

function counting(log: Delivery[], crash: () => number, onDelivery?: (n: number) => void, origin?: 'own' | 'any') {
  return defineReaction({
    name: 'charge',
    events: [ItemAdded],
    origin,
    backoff: { initialMs: 1, maxMs: 5 },
    handlers: {
      ItemAdded: (event, ctx: ReactionContext) => {
        log.push({ id: event.id, redelivery: ctx.redelivery, crash: crash() });
        onDelivery?.(log.length);
      },
    },
  });
}

/** An engine worker for openStore's `worker` option, and how to kill it. */
function killableWorker() {
  let spawned: Worker | undefined;
  return {
    worker: () => (spawned = new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module' })),
    kill: () => spawned!.terminate(),
  };
}

/** Opens a store whose engine runs in a worker the test can kill. */
async function openKillable(name: string, extra: Partial<Parameters<typeof openStore>[0]> = {}) {
  const { worker, kill } = killableWorker();
  const store = await openStore({ ...model, ...extra, name, worker });
  return { store, kill };
}

/** What `promise` settles with (its value, or the error it rejects with), or 'still waiting' once `ms` have passed. */
function within(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([promise.catch((e: unknown) => e), new Promise((r) => setTimeout(() => r('still waiting'), ms))]);
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function summarize(log: Delivery[]) {
  const perId = new Map<string, Delivery[]>();
  for (const d of log) perId.set(d.id, [...(perId.get(d.id) ?? []), d]);
  return perId;
}

describe('crash points (worker terminated)', () => {
  it('an append killed at any point is stored all or nothing; its retry stores each id once; the reaction delivers each at most once more, flagged', async () => {
    const name = uniqueStoreName('crash-append');
    const deliveries: Delivery[] = [];
    let crash = 0;
    const reaction = counting(deliveries, () => crash);
    const ids: string[] = [];
    try {
      for (const delay of [0, 2, 8, 25, 80]) {
        crash++;
        const batch = Array.from({ length: 800 }, (_, i) => item(`r${crash}-${i}`, `c${crash}-e${i}`));
        ids.push(...batch.map((e) => e.id!));
        const { store, kill } = await openKillable(name, { reactions: [reaction] });
        void store.append(`order-${crash}`, batch).catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay));
        kill();
        // The app reloads and retries the same append: a true retry is a no-op if it had landed.
        const { store: next } = await openKillable(name, { reactions: [reaction] });
        const retried = await next.append(`order-${crash}`, batch);
        expect(retried.events).toHaveLength(batch.length);
        await until(async () => (await next.reactions.status())[0]!.caughtUp, 'the reaction to catch up');
        await next.close();
      }
      const check = await openStore({ ...model, name, worker: true });
      const stored: string[] = [];
      for await (const e of check.readLog()) stored.push(e.id);
      await check.close();
      expect(stored.sort()).toEqual([...ids].sort());
      const perId = summarize(deliveries);
      expect(perId.size).toBe(ids.length);
      let extra = 0;
      for (const list of perId.values()) {
        expect(list.length).toBeLessThanOrEqual(2);
        if (list.length === 2) {
          extra++;
          expect(list[1]!.redelivery).toBe(true);
        }
      }
      expect(extra).toBeLessThanOrEqual(5); // at most the one event in flight per kill
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it("a store whose engine's worker ends answers every call, in flight or after, with StoreClosedError (engine-stopped) instead of hanging; close() resolves", async () => {
    const name = uniqueStoreName('crash-stopped');
    try {
      const { store, kill } = await openKillable(name);
      await store.append('order-1', [item('a')]);
      const inFlight = store
        .append(
          'order-2',
          Array.from({ length: 2000 }, (_, i) => item(`s${i}`)),
        )
        .catch((e: unknown) => e);
      kill();
      const settled = (promise: Promise<unknown>) => within(promise, 5000);
      const stopped = { name: 'StoreClosedError', code: 'STORE_CLOSED', reason: 'engine-stopped' };
      expect(await settled(inFlight)).toMatchObject(stopped);
      expect(await settled(store.append('order-3', [item('b')]))).toMatchObject(stopped);
      expect(await settled(store.load(model.aggregates[0], 'order-1'))).toMatchObject(stopped);
      expect(await settled(store.sync.status())).toMatchObject(stopped);
      // The app hears of it without calling anything: store.stopped settles with the same error.
      expect(await settled(store.stopped)).toMatchObject(stopped);
      expect(await settled(store.close())).toBeUndefined();
      // What was stored before the worker ended is there when the app opens the store again.
      const reopened = await openStore({ ...model, name, worker: true });
      expect((await reopened.load(model.aggregates[0], 'order-1')).version).toBe(1);
      await reopened.close();
      // A store the app closes has not stopped on its own: stopped never settles.
      expect(await within(reopened.stopped, 300)).toBe('still waiting');
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('openStore whose worker ends while the engine opens rejects with StoreClosedError (engine-stopped) instead of waiting for good', async () => {
    const name = uniqueStoreName('crash-opening');
    try {
      const { worker, kill } = killableWorker();
      const opening = openStore({ ...model, name, worker });
      // Until the engine has begun opening its database (it exists), then the worker ends mid-open.
      for (let i = 0; i < 5000; i++) {
        if ((await indexedDB.databases()).some((db) => db.name === name)) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      kill();
      const outcome = await within(opening, 5000);
      expect(outcome).not.toBe('still waiting');
      if (outcome instanceof Error) {
        expect(outcome).toMatchObject({ name: 'StoreClosedError', reason: 'engine-stopped' });
      } else {
        // The open won the race: the store then stops on its own.
        const store = outcome as Awaited<typeof opening>;
        expect(await store.stopped).toMatchObject({ reason: 'engine-stopped' });
        await store.close();
      }
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('a store closed while its worker ends has not stopped on its own: stopped never settles, close() resolves', async () => {
    const name = uniqueStoreName('crash-close-terminate');
    try {
      const { store, kill } = await openKillable(name);
      await store.append('order-1', [item('a')]);
      const closed = store.close();
      kill();
      await closed;
      expect(await within(store.stopped, 500)).toBe('still waiting');
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('after the store stopped on its own, every later call (and close) keeps the engine-stopped reason, subscriptions included', async () => {
    const name = uniqueStoreName('crash-stopped-later');
    try {
      const { store, kill } = await openKillable(name);
      kill();
      await store.stopped;
      const reason = { name: 'StoreClosedError', reason: 'engine-stopped' };
      expect(() => store.subscribeLog(() => undefined)).toThrow(expect.objectContaining(reason));
      expect(() => store.metrics.subscribe(() => undefined)).toThrow(expect.objectContaining(reason));
      await store.close();
      await expect(store.append('order-1', [item('a')])).rejects.toMatchObject(reason);
      await expect(store.readLog()[Symbol.asyncIterator]().next()).rejects.toMatchObject(reason);
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('close() right after the worker ended (before the page heard of it) resolves, and so does a call in flight', async () => {
    const results: string[] = [];
    for (const delay of [0, 1, 5, 20]) {
      const name = uniqueStoreName('crash-close-window');
      try {
        const { store, kill } = await openKillable(name);
        await store.append('order-1', [item('a')]);
        const inFlight = store.append('order-1', [item('b')]).then(
          () => 'stored',
          (e: unknown) => (e as Error).name,
        );
        kill();
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        const closed = await within(
          store.close().then(() => 'closed'),
          5000,
        );
        results.push(`${delay} ms: ${String(closed)}, in flight: ${await inFlight}`);
      } finally {
        await deleteTestDatabase(name);
      }
    }
    expect(
      results.every((line) => /closed, in flight: (stored|StoreClosedError)$/.test(line)),
      results.join('; '),
    ).toBe(true);
  });

  it('a reaction killed at many points of its deliveries: each event at most once more, flagged, one per kill', async () => {
    const name = uniqueStoreName('crash-reaction');
    const deliveries: Delivery[] = [];
    let crash = 0;
    let killAt = Infinity;
    let kill: (() => void) | undefined;
    const reaction = counting(
      deliveries,
      () => crash,
      (n) => {
        if (n === killAt) kill?.();
      },
    );
    try {
      const seed = await openStore({ ...model, name, worker: true, reactions: [reaction] });
      await until(async () => (await seed.reactions.status())[0]!.caughtUp, 'registration');
      await seed.close();
      // The events arrive while no tab runs reactions (e.g. written by an older app version).
      const writer = await openStore({ ...model, name, worker: true });
      for (let i = 0; i < 6; i++)
        await writer.append(
          `o${i}`,
          Array.from({ length: 40 }, (_, j) => item(`s${i}-${j}`)),
        );
      await writer.close();
      for (const at of [1, 17, 18, 63, 120, 200]) {
        crash++;
        killAt = at;
        const tab = await openKillable(name, { reactions: [reaction] });
        kill = tab.kill;
        await until(() => deliveries.length >= at, `delivery ${at}`);
      }
      killAt = Infinity;
      const last = await openStore({ ...model, name, worker: true, reactions: [reaction] });
      await until(async () => (await last.reactions.status())[0]!.caughtUp, 'the last tab to catch up');
      await last.close();
      const perId = summarize(deliveries);
      expect(perId.size).toBe(240);
      // Per tab (one per kill, then the last): at most one event it delivers was delivered before, and it is flagged.
      const seenBefore = new Set<string>();
      for (let epoch = 1; epoch <= crash; epoch++) {
        const mine = deliveries.filter((d) => d.crash === epoch);
        const again = mine.filter((d) => seenBefore.has(d.id));
        expect(again.length, `tab ${epoch}`).toBeLessThanOrEqual(1);
        for (const d of again) expect(d.redelivery).toBe(true);
        for (const d of mine) seenBefore.add(d.id);
      }
      // Events no kill interrupted were delivered exactly once, unflagged.
      const once = [...perId.values()].filter((list) => list.length === 1);
      expect(once.length).toBeGreaterThanOrEqual(240 - 6);
      for (const [d] of once) expect(d!.redelivery).toBe(false);
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('a reaction killed while handling a pending event, then other events pulled in first: the interrupted one still comes again flagged', async () => {
    const name = uniqueStoreName('crash-interrupted');
    const deliveries: Delivery[] = [];
    let crash = 1;
    let kill: (() => void) | undefined;
    const reaction = counting(
      deliveries,
      () => crash,
      (n) => {
        if (n === 1) kill?.();
      },
      'any', // acts on other devices' events too: those come first after the crash
    );
    try {
      const tab = await openKillable(name, { reactions: [reaction] });
      kill = tab.kill;
      void tab.store.append('mine', [item('charged-then-crash', 'x-1')]).catch(() => undefined);
      await until(() => deliveries.length >= 1, 'the first delivery');
      // While no tab runs the reaction, a sync pulls in another device's orders: confirmed, so met before pending ones.
      crash++;
      const sync = await openStore({ ...model, name, worker: true });
      const other = (i: number) => ({
        id: `y-${i}`,
        aggregateId: `theirs-${i}`,
        aggregateType: 'Order',
        seq: 1,
        type: 'ItemAdded',
        version: 2,
        data: { sku: `theirs-${i}`, qty: 1, price: 1 },
        meta: { occurredAt: Date.now(), clientId: 'another-device', clientSeq: i },
        position: i,
      });
      await sync.importConfirmed([other(1), other(2)]);
      await sync.close();
      const next = await openStore({ ...model, name, worker: true, reactions: [reaction] });
      await until(async () => (await next.reactions.status())[0]!.caughtUp, 'the next tab to catch up');
      await next.close();
      expect(deliveries.map((d) => [d.id, d.redelivery])).toEqual([
        ['x-1', false],
        ['y-1', false],
        ['y-2', false],
        ['x-1', true],
      ]);
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('a replay job killed at many points: at most checkpointEvery events again, all flagged; the rest exactly once', async () => {
    const name = uniqueStoreName('crash-replay');
    const seen: { id: string; redelivery: boolean; run: number }[] = [];
    try {
      const writer = await openStore({ ...model, name, worker: true });
      await writer.appendBatch(
        [0, 1, 2].map((a) => ({ aggregateId: `o${a}`, events: Array.from({ length: 500 }, (_, i) => item(`s${a}-${i}`)) })),
      );
      await writer.close();
      let run = 0;
      for (const at of [5, 99, 100, 101, 350, 777]) {
        run++;
        const { store, kill } = await openKillable(name);
        let calls = 0;
        void store
          .replay({
            name: 'rebuild-search',
            checkpointEvery: 100,
            handler(event, ctx) {
              seen.push({ id: event.id, redelivery: ctx.redelivery, run });
              if (++calls === at) kill();
            },
          })
          .catch(() => undefined);
        await until(() => calls >= at, `handled ${at}`);
        // Let the dead job run into its next checkpoint (which never lands) before the next tab starts.
        await new Promise((r) => setTimeout(r, 20));
      }
      run++;
      const last = await openStore({ ...model, name, worker: true });
      const result = await last.replay({
        name: 'rebuild-search',
        checkpointEvery: 100,
        handler: (event, ctx) => void seen.push({ id: event.id, redelivery: ctx.redelivery, run }),
      });
      await last.close();
      expect(result).toMatchObject({ processed: 1500, scanned: 1500, total: 1500 });
      expect(new Set(seen.map((s) => s.id)).size).toBe(1500);
      // Per run: the events it delivered that an earlier run had delivered are at most checkpointEvery, all flagged.
      const before = new Set<string>();
      for (let r = 1; r <= run; r++) {
        const mine = seen.filter((s) => s.run === r);
        const again = mine.filter((s) => before.has(s.id));
        expect(again.length, `run ${r}`).toBeLessThanOrEqual(100);
        for (const s of again) expect(s.redelivery).toBe(true);
        for (const s of mine) before.add(s.id);
      }
    } finally {
      await deleteTestDatabase(name);
    }
  });
});
