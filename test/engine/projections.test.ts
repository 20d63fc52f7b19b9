import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/core/errors.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Revenue } from '../fixtures/model.ts';
import { eventually, modes, openOrderStore } from './modes.ts';
import { openChronicleDb } from '../../worker/db.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

describe.each(modes)('projections ($mode)', ({ worker }) => {
  it('folds the log into a named read model and keeps it live', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 2, 5), item('b', 1, 7)]);
      const revenue = store.projection(Revenue);
      await eventually(async () => expect((await revenue.get()).state).toMatchObject({ items: 3, revenue: 17 }));
      const seen: number[] = [];
      const stop = revenue.subscribe((s) => seen.push(s.state.revenue));
      await store.append('o2', [item('c', 1, 100)]);
      await eventually(() => expect(seen.at(-1)).toBe(117));
      stop();
      const snapshot = await revenue.get();
      expect(snapshot.applied).toBe(3);
    } finally {
      await store.dispose();
    }
  });

  it('applies every event exactly once even with two tabs advancing it at once', async () => {
    const a = await openOrderStore(worker, { projections: [Revenue] });
    const b = await openTestStore({ ...model, worker, name: a.name, projections: [Revenue] });
    try {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        writes.push((i % 2 ? a : b).append(`o${i % 5}`, [item(`s${i}`, 1, 1)]));
        writes.push(a.projection(Revenue).get(), b.projection(Revenue).get());
      }
      await Promise.all(writes);
      const fromA = await a.projection(Revenue).get();
      const fromB = await b.projection(Revenue).get();
      expect(fromA.state).toMatchObject({ items: 40, revenue: 40 });
      expect(fromB.state).toEqual(fromA.state);
      expect(fromA.applied).toBe(40);
    } finally {
      await b.close();
      await a.dispose();
    }
  });

  it('folds again a pending layer an older version stored (no rewrite count): it may hold events rejected since', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [item('a', 1, 1), item('b', 2, 1)]);
      expect((await store.projection(Revenue).get()).state).toMatchObject({ items: 3 });
      await store.close();
      // What an older version left: its layer counted events that were rejected since (here: more items than
      // pending), and neither the layer nor the store's metadata has a rewrite count.
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const record = (await db.get('projections', 'revenue'))!;
        expect(record.pending).toMatchObject({ rewrites: 0 });
        record.pending = { state: { items: 7, revenue: 7, replayed: 0, live: 7 }, cursor: record.pending!.cursor, applied: 3 };
        await db.put('projections', record, 'revenue');
        const meta = (await db.get('meta', 'client'))!;
        delete meta.pendingRewrites;
        await db.put('meta', meta, 'client');
      } finally {
        db.close();
      }
      const reopened = await openTestStore({ ...model, worker, name: store.name });
      try {
        expect((await reopened.projection(Revenue).get()).state).toMatchObject({ items: 3, revenue: 3 });
      } finally {
        await reopened.dispose();
      }
    } finally {
      await store.close();
    }
  });

  it('survives a reopen (state and checkpoint persisted) and rebuilds from scratch with isReplay', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 1, 1), item('b', 1, 1)]);
      await eventually(async () => expect((await store.projection(Revenue).get()).applied).toBe(2));
      const reopened = await openTestStore({ ...model, worker, name: store.name });
      try {
        const persisted = await reopened.projection(Revenue).get();
        expect(persisted.state).toMatchObject({ items: 2 });
        expect(persisted.applied).toBe(2);
        const progress: number[] = [];
        const rebuilt = await reopened.projection(Revenue).rebuild({ onProgress: (p) => progress.push(p.scanned) });
        expect(rebuilt.state).toEqual({ items: 2, revenue: 2, replayed: 2, live: 0 });
        expect(progress.at(-1)).toBe(2);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.dispose();
    }
  });

  it('a rebuild whose signal is aborted before it starts leaves the projection as it was', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 1, 1), item('b', 1, 1)]);
      const revenue = store.projection(Revenue);
      await eventually(async () => expect((await revenue.get()).applied).toBe(2));
      const controller = new AbortController();
      controller.abort();
      await expect(revenue.rebuild({ signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
      // Not reset and folded again: a fold since would count the events as history (replayed).
      expect((await revenue.get()).state).toEqual({ items: 2, revenue: 2, replayed: 0, live: 2 });
    } finally {
      await store.dispose();
    }
  });

  // A settings screen that shows a projection and rebuilds it: the subscriber's catch-ups wait for the rebuild,
  // which folds everything itself, reporting its progress, and is timed as one replay run of all the events.
  it.each([
    { how: 'subscribed', follow: false },
    { how: 'listed in openStore and subscribed', follow: true },
  ])(
    'a rebuild of a projection that is $how folds it itself: progress, its replay sample, no half-done state shown',
    async ({ follow }) => {
      const store = await openOrderStore(worker, follow ? { projections: [Revenue] } : {});
      try {
        const count = 2500;
        for (let o = 0; o < 5; o++) {
          await store.append(
            `o${o}`,
            Array.from({ length: count / 5 }, (_, i) => item(`s${o}-${i}`)),
          );
        }
        const revenue = store.projection(Revenue);
        const seen: { items: number; replayed: number; live: number }[] = [];
        const stop = revenue.subscribe(({ state }) => seen.push({ items: state.items, replayed: state.replayed, live: state.live }));
        try {
          await eventually(() => expect(seen.at(-1)).toEqual({ items: count, replayed: 0, live: count }));
          const before = await store.metrics();
          const progress: { processed: number; scanned: number; total: number }[] = [];
          const rebuilt = await revenue.rebuild({ onProgress: (p) => progress.push({ ...p }) });
          expect(rebuilt.state).toMatchObject({ items: count, replayed: count, live: 0 });
          // Once per 1,000 events looked at, and at the end.
          expect(progress.length).toBeGreaterThanOrEqual(2);
          expect(progress.at(-1)).toEqual({ processed: count, scanned: count, total: count });
          for (let i = 1; i < progress.length; i++) expect(progress[i]!.scanned).toBeGreaterThanOrEqual(progress[i - 1]!.scanned);
          const after = await store.metrics();
          expect(after.replay.count).toBe(before.replay.count + 1);
          expect(after.replay.last).not.toBeNull();
          expect(after.replay.events).toBe(before.replay.events + count);
          // The subscriber sees the rebuilt state, and never an empty or half-folded one.
          await eventually(() => expect(seen.at(-1)).toEqual({ items: count, replayed: count, live: 0 }));
          expect(seen.filter((state) => state.items !== count)).toEqual([]);
          // Nothing was folded twice: no catch-up folded the events again.
          expect((await store.metrics()).catchUp.events).toBe(before.catchUp.events);
        } finally {
          stop();
        }
      } finally {
        await store.dispose();
      }
    },
  );
});
