// A scan of confirmed events only (a projection's catch-up, subscribeLog, a
// reaction on 'confirmed', readLog({ status: 'confirmed' })) stops where the
// pending pages begin instead of reading them: a device offline for a day
// holds thousands, and every append would otherwise read them all again.
// A scan of pending events after a cursor (a projection's pending layer,
// subscribeLog's pending tail, readLog({ status: 'pending', after })) starts
// at the page holding the cursor (pages are keyed [PENDING, lsn], the
// cursor names its page): it reads what is new, not what is pending.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineProjection } from '../../src/core/projection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';
import { PENDING } from '../../worker/types.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

/** Counts reads of pending pages (keys [PENDING, lsn]) through IDBObjectStore.prototype.get in this thread. */
let pendingPageReads = 0;
let restore: () => void;
beforeEach(() => {
  const proto = (globalThis as unknown as { IDBObjectStore: { prototype: IDBObjectStore } }).IDBObjectStore.prototype;
  const original = proto.get;
  proto.get = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
    if (this.name === 'pages' && Array.isArray(query) && query[0] === PENDING) pendingPageReads++;
    return original.call(this, query);
  };
  restore = () => {
    proto.get = original;
  };
  pendingPageReads = 0;
});
afterEach(() => restore());

const Count = defineProjection({
  name: 'count',
  events: [ItemAdded],
  initialState: () => 0,
  handlers: { ItemAdded: (n: number) => n + 1 },
});

describe('confirmed-only scans and pending pages', () => {
  /** One append each: `count` pending pages, as an offline device's edits are. */
  const appendEach = async (store: { append: (id: string, events: ReturnType<typeof item>[]) => Promise<unknown> }, count: number) => {
    for (let i = 0; i < count; i++) await store.append(`o${i % 7}`, [item(`sku-${i}`)]);
  };

  it('readLog({ status: "confirmed" }) reads none of 200 pending pages', async () => {
    const store = await openTestStore({ ...model, worker: false });
    try {
      await appendEach(store, 200);
      pendingPageReads = 0;
      const confirmed = [];
      for await (const event of store.readLog({ status: 'confirmed' })) confirmed.push(event);
      expect(confirmed).toEqual([]);
      expect(pendingPageReads).toBe(0);
      // The pending ones are all there for a scan that asks for them.
      let pending = 0;
      for await (const event of store.readLog({ status: 'pending' })) pending += event.type === 'ItemAdded' ? 1 : 0;
      expect(pending).toBe(200);
    } finally {
      await store.dispose();
    }
  });

  it("a projection's catch-up after an append reads the new pending page, not the 200 folded before it", async () => {
    const store = await openTestStore({ ...model, worker: false, projections: [Count] });
    try {
      await appendEach(store, 200);
      expect((await store.projection(Count).get()).state).toBe(200);
      pendingPageReads = 0;
      await store.append('o1', [item('one more')]);
      expect((await store.projection(Count).get()).state).toBe(201);
      // The confirmed step reads no pending page; the pending step starts at its cursor's page (page 200, whose
      // last event it folded) and reads page 201. The append's own live catch-up and get()'s may both run.
      expect(pendingPageReads).toBeGreaterThan(0);
      expect(pendingPageReads).toBeLessThanOrEqual(3);
    } finally {
      await store.dispose();
    }
  });

  it('readLog({ status: "pending", after }) and subscribeLog read the pages after the cursor, not the pending ones before it', async () => {
    const store = await openTestStore({ ...model, worker: false });
    try {
      await appendEach(store, 200);
      const entries = [];
      for await (const batch of store.scan({ status: 'pending' })) entries.push(...batch);
      expect(entries).toHaveLength(200);
      pendingPageReads = 0;
      const skus = [];
      for await (const event of store.readLog({ status: 'pending', after: entries[197]!.cursor }))
        skus.push((event.data as { sku: string }).sku);
      expect(skus).toEqual(['sku-198', 'sku-199']);
      expect(pendingPageReads).toBeLessThanOrEqual(3);

      const delivered: string[] = [];
      const stop = store.subscribeLog((events) => delivered.push(...events.map((e) => (e.data as { sku: string }).sku)));
      try {
        pendingPageReads = 0;
        await store.append('o1', [item('live')]);
        await expect.poll(() => delivered).toEqual(['live']);
        expect(pendingPageReads).toBeLessThanOrEqual(3);
      } finally {
        stop();
      }
    } finally {
      await store.dispose();
    }
  });
});
