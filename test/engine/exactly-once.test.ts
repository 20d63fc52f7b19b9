// Issue 9, points 1, 4, 5 and 7: each rule as a test, in Node (fake-indexeddb)
// and in Chromium (worker and in-process).
import { describe, expect, it } from 'vitest';
import { DuplicateInBatchError, EventIdConflictError, ValidationError } from '../../src/core/errors.ts';
import { defineProjection } from '../../src/core/projection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes, openOrderStore } from './modes.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

/** A payments projection as the issue describes it: it counts what a live handler would charge. */
const Payments = defineProjection({
  name: 'payments',
  events: [ItemAdded],
  initialState: () => ({ charged: [] as string[], skipped: [] as string[] }),
  handlers: {
    ItemAdded: (state, event, ctx) =>
      ctx.isReplay ? { ...state, skipped: [...state.skipped, event.data.sku] } : { ...state, charged: [...state.charged, event.data.sku] },
  },
});

describe.each(modes)('live events are not replays ($mode)', ({ worker }) => {
  it('events appended right after openStore reach a projection live (isReplay: false), even in its first catch-up', async () => {
    const store = await openOrderStore(worker, { projections: [Payments] });
    try {
      for (let i = 1; i <= 5; i++) await store.append(`o${i}`, [item(`pay-${i}`)]);
      await eventually(async () => expect((await store.projection(Payments).get()).applied).toBe(5));
      const { state } = await store.projection(Payments).get();
      expect(state.charged).toEqual(['pay-1', 'pay-2', 'pay-3', 'pay-4', 'pay-5']);
      expect(state.skipped).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('events stored before the store opened are history; a projection first asked for later still sees new events live', async () => {
    const first = await openOrderStore(worker);
    await first.append('old', [item('before-open')]);
    await first.close();
    const store = await openTestStore({ ...model, worker, name: first.name });
    try {
      await store.append('new', [item('after-open')]);
      const { state } = await store.projection(Payments).get();
      expect(state).toEqual({ charged: ['after-open'], skipped: ['before-open'] });
      // A rebuild replays everything stored before it began.
      const rebuilt = await store.projection(Payments).rebuild();
      expect(rebuilt.state).toEqual({ charged: [], skipped: ['before-open', 'after-open'] });
      await store.append('later', [item('after-rebuild')]);
      expect((await store.projection(Payments).get()).state.charged).toEqual(['after-rebuild']);
    } finally {
      await store.dispose();
    }
  });

  it('the Revenue fixture counts live and replayed folds the same way', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [item('a'), item('b')]);
      await eventually(async () => expect((await store.projection(Revenue).get()).state).toMatchObject({ live: 2, replayed: 0 }));
    } finally {
      await store.dispose();
    }
  });
});

describe.each(modes)('appendBatch and ids ($mode)', ({ worker }) => {
  it('one id twice in one appendBatch, across two streams, is refused with DuplicateInBatchError and nothing is stored', async () => {
    const store = await openOrderStore(worker);
    try {
      const error = await store
        .appendBatch([
          { aggregateId: 'a', events: [{ ...item('x'), id: 'twice' }] },
          { aggregateId: 'b', events: [{ ...item('y'), id: 'twice' }] },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DuplicateInBatchError);
      expect(error).toMatchObject({ eventId: 'twice' });
      expect((await store.info()).pendingEvents).toBe(0);
      expect(await collect(store.readLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('an id already stored in another stream is refused with a typed error, not acknowledged with the other stream’s event', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('a', [{ ...item('x'), id: 'taken' }]);
      const single = await store.append('b', [{ ...item('x'), id: 'taken' }]).catch((e: unknown) => e);
      expect(single).toBeInstanceOf(EventIdConflictError);
      expect(single).toMatchObject({ code: 'EVENT_ID_CONFLICT', eventId: 'taken', aggregateId: 'b', storedAggregateId: 'a' });
      const batch = await store
        .appendBatch([
          { aggregateId: 'c', events: [item('fresh')] },
          { aggregateId: 'b', events: [{ ...item('x'), id: 'taken' }] },
        ])
        .catch((e: unknown) => e);
      expect(batch).toBeInstanceOf(EventIdConflictError);
      expect((await store.info()).pendingEvents).toBe(1);
      expect(await collect(store.readStream('b'))).toEqual([]);
      expect(await collect(store.readStream('c'))).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('an id already stored with different content is refused; a true retry (same id, stream and content) stays a no-op', async () => {
    const store = await openOrderStore(worker);
    try {
      const first = await store.append('a', [{ ...item('x', 1, 10), id: 'e1' }]);
      const changed = await store.append('a', [{ ...item('x', 2, 10), id: 'e1' }]).catch((e: unknown) => e);
      expect(changed).toBeInstanceOf(EventIdConflictError);
      expect(changed).toMatchObject({ eventId: 'e1', reason: 'different-content' });
      const retry = await store.append('a', [{ ...item('x', 1, 10), id: 'e1' }]);
      expect(retry.duplicates).toEqual(['e1']);
      expect(retry.events.map((e) => [e.id, e.seq])).toEqual(first.events.map((e) => [e.id, e.seq]));
      const batchRetry = await store.appendBatch([{ aggregateId: 'a', events: [{ ...item('x', 1, 10), id: 'e1' }] }]);
      expect(batchRetry[0]!.duplicates).toEqual(['e1']);
      expect((await store.info()).pendingEvents).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it('two concurrent appends carrying one id (one group commit) store it once', async () => {
    const store = await openOrderStore(worker);
    try {
      const same = [{ ...item('x'), id: 'racing' }];
      const [a, b] = await Promise.allSettled([store.append('a', same), store.append('a', same)]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
      const other = await Promise.allSettled([
        store.append('p', [{ ...item('y'), id: 'racing2' }]),
        store.append('q', [{ ...item('y'), id: 'racing2' }]),
      ]);
      expect(other.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      const log = await collect(store.readLog());
      expect(log.map((e) => e.id).sort()).toEqual(['racing', 'racing2']);
    } finally {
      await store.dispose();
    }
  });
});

describe.each(modes)('subscriptions from the moment they return ($mode)', ({ worker }) => {
  it('subscribeLog delivers appends made right after it returns', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o0', [item('before')]);
      const seen: string[] = [];
      const stop = store.subscribeLog((events) => seen.push(...events.map((e) => (e.known && e.type === 'ItemAdded' ? e.data.sku : '?'))));
      await store.append('o1', [item('x')]);
      await store.append('o1', [item('y')]);
      await store.append('o2', [item('z')]);
      await eventually(() => expect(seen).toEqual(['x', 'y', 'z']));
      stop();
    } finally {
      await store.dispose();
    }
  });

  it('subscribe (aggregate) and a projection subscription see appends made right after they return', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      const totals: number[] = [];
      const revenue: number[] = [];
      const stopA = store.subscribe(Order, 'o1', (r) => totals.push(r.state.total));
      const stopP = store.projection(Revenue).subscribe((s) => revenue.push(s.state.revenue));
      await Promise.all([store.append('o1', [item('a', 1, 3)]), store.append('o1', [item('b', 1, 4)])]);
      await eventually(() => expect(totals.at(-1)).toBe(7));
      await eventually(() => expect(revenue.at(-1)).toBe(7));
      stopA();
      stopP();
    } finally {
      await store.dispose();
    }
  });
});

describe.each(modes)('poison ids ($mode)', ({ worker }) => {
  it('refuses an aggregate id with a lone surrogate or a NUL with ValidationError, and stores nothing', async () => {
    const store = await openOrderStore(worker);
    try {
      for (const bad of ['order-\uD83D', 'order-\uDE00-x', 'ord\u0000er']) {
        const single = await store.append(bad, [item('a')]).catch((e: unknown) => e);
        expect(single, escape(bad)).toBeInstanceOf(ValidationError);
        expect(single).toMatchObject({ path: 'aggregateId' });
        const batch = await store
          .appendBatch([
            { aggregateId: 'fine', events: [item('b')] },
            { aggregateId: bad, events: [item('c')] },
          ])
          .catch((e: unknown) => e);
        expect(batch).toBeInstanceOf(ValidationError);
      }
      const badEventId = await store.append('fine', [{ ...item('a'), id: 'id\u0000' }]).catch((e: unknown) => e);
      expect(badEventId).toBeInstanceOf(ValidationError);
      expect((await store.info()).pendingEvents).toBe(0);
      expect(await collect(store.readLog())).toEqual([]);
      // A whole emoji is fine.
      await store.append('order-😀', [item('ok')]);
      expect((await store.info()).pendingEvents).toBe(1);
    } finally {
      await store.dispose();
    }
  });
});
