import { describe, expect, it } from 'vitest';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { ItemAdded, Order, OrderPlaced, type OrderState } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

/** Same stream type and reducers as Order, but a new reducer version: Order's snapshots must not be trusted. */
const OrderV2 = defineAggregate({
  type: 'Order',
  version: 2,
  events: [OrderPlaced, ItemAdded],
  snapshotEvery: 50,
  initialState: (): OrderState & { v2: true } => ({ customerId: null, lines: {}, total: 0, status: 'new', v2: true }),
  reducers: {
    OrderPlaced: (state, event) => ({ ...state, customerId: event.data.customerId, status: 'placed' as const }),
    ItemAdded: (state, event) => ({ ...state, total: state.total + event.data.qty * event.data.price }),
  },
});

describe.each(modes)('load and snapshots ($mode)', ({ worker }) => {
  it('takes a snapshot every N events and loads from it afterwards', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append(
        'o1',
        Array.from({ length: 120 }, (_, i) => item(`s${i}`, 1, 1)),
      );
      const cold = await store.load(Order, 'o1');
      expect(cold).toMatchObject({ version: 120, snapshotVersion: 0, eventsApplied: 120 });
      expect(cold.state.total).toBe(120);
      const warm = await store.load(Order, 'o1');
      expect(warm).toMatchObject({ version: 120, snapshotVersion: 120, eventsApplied: 0 });
      expect(warm.state).toEqual(cold.state);
      await store.append('o1', [item('late', 2, 5)]);
      const after = await store.load(Order, 'o1');
      expect(after).toMatchObject({ version: 121, snapshotVersion: 120, eventsApplied: 1 });
      expect(after.state.total).toBe(130);
    } finally {
      await store.dispose();
    }
  });

  it('ignores a snapshot written by another reducer version and rebuilds it', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append(
        'o1',
        Array.from({ length: 60 }, (_, i) => item(`s${i}`, 1, 2)),
      );
      expect(await store.snapshot(Order, 'o1')).toBe(60);
      expect((await store.load(Order, 'o1')).snapshotVersion).toBe(60);
      const v2 = await store.load(OrderV2, 'o1');
      expect(v2).toMatchObject({ snapshotVersion: 0, eventsApplied: 60 });
      expect(v2.state.v2).toBe(true);
      expect(v2.state.total).toBe(120);
      // The rebuilt snapshot belongs to version 2 now.
      expect(await store.load(OrderV2, 'o1')).toMatchObject({ snapshotVersion: 60, eventsApplied: 0 });
    } finally {
      await store.dispose();
    }
  });

  it('snapshots states that are not plain JSON (a Map) as they are', async () => {
    const SkuIndex = defineAggregate({
      type: 'Order',
      version: 7,
      events: [OrderPlaced, ItemAdded],
      initialState: () => new Map<string, number>(),
      reducers: {
        OrderPlaced: (state) => state,
        ItemAdded: (state, event) => new Map(state).set(event.data.sku, (state.get(event.data.sku) ?? 0) + event.data.qty),
      },
    });
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [item('a', 2), item('b', 1), item('a', 1)]);
      expect(await store.snapshot(SkuIndex, 'o1')).toBe(3);
      const loaded = await store.load(SkuIndex, 'o1');
      expect(loaded).toMatchObject({ snapshotVersion: 3, eventsApplied: 0 });
      expect(loaded.state).toBeInstanceOf(Map);
      expect([...loaded.state]).toEqual([
        ['a', 3],
        ['b', 1],
      ]);
    } finally {
      await store.dispose();
    }
  });

  it('takes a snapshot on demand', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('a')]);
      expect(await store.snapshot(Order, 'o1')).toBe(2);
      expect(await store.load(Order, 'o1')).toMatchObject({ version: 2, snapshotVersion: 2, eventsApplied: 0 });
      expect(await store.load(Order, 'empty')).toMatchObject({ version: 0, eventsApplied: 0, state: { status: 'new' } });
    } finally {
      await store.dispose();
    }
  });

  it('upcasts old event versions on read and keeps unknown event types', async () => {
    const store = await openOrderStore(worker);
    try {
      const base = { aggregateId: 'o1', aggregateType: 'Order', meta: { occurredAt: 1, clientId: 'old-app', clientSeq: 1 } };
      await store.importConfirmed([
        { ...base, id: 'e1', seq: 1, type: 'ItemAdded', version: 1, data: { sku: 'a', quantity: 3, price: 2 }, position: 1 },
        { ...base, id: 'e2', seq: 2, type: 'GiftWrapped', version: 1, data: { paper: 'red' }, position: 2 },
        { ...base, id: 'e3', seq: 3, type: 'ItemAdded', version: 2, data: { sku: 'b', qty: 1, price: 10 }, position: 3 },
      ]);
      const events = await collect(store.readStream('o1'));
      expect(events.map((e) => e.known)).toEqual([true, false, true]);
      expect(events[0]).toMatchObject({ version: 2, storedVersion: 1, data: { sku: 'a', qty: 3, price: 2 } });
      expect(events[1]).toMatchObject({ type: 'GiftWrapped', data: { paper: 'red' } });
      const loaded = await store.load(Order, 'o1');
      expect(loaded).toMatchObject({ version: 3, unknownEvents: 1, eventsApplied: 3 });
      expect(loaded.state.total).toBe(16);
      // The stored bytes are untouched: the log still holds version 1 data.
      const raw = await collect(store.readLog({ aggregateIds: ['o1'] }));
      expect(raw[0]!.storedVersion).toBe(1);
    } finally {
      await store.dispose();
    }
  });
});
