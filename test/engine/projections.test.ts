import { describe, expect, it } from 'vitest';
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
});
