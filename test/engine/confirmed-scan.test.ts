// A scan of confirmed events only (a projection's catch-up, subscribeLog, a
// reaction on 'confirmed', readLog({ status: 'confirmed' })) stops where the
// pending pages begin instead of reading them: a device offline for a day
// holds thousands, and every append would otherwise read them all again.
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

  it("a projection's catch-up after an append reads the pending pages once (its pending step), not twice", async () => {
    const store = await openTestStore({ ...model, worker: false, projections: [Count] });
    try {
      await appendEach(store, 200);
      expect((await store.projection(Count).get()).state).toBe(200);
      pendingPageReads = 0;
      await store.append('o1', [item('one more')]);
      expect((await store.projection(Count).get()).state).toBe(201);
      // 201 pending pages: the pending step reads each once; the confirmed step, before it, none.
      expect(pendingPageReads).toBeGreaterThan(0);
      expect(pendingPageReads).toBeLessThanOrEqual(201);
    } finally {
      await store.dispose();
    }
  });
});
