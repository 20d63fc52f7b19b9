// Two versions of an app on one log: a tab left open on an old build while a
// new one runs, or a device not yet updated that pulls a newer one's events.
// An event stored at a version newer than the app's definition of its type
// cannot be read by it: nothing folds it as if it could, and no reaction
// hands it to a handler written for another shape or passes it by.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate, defineEvent, defineProjection, defineReaction, type ReactionContext } from '../../src/core/index.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, OrderPlaced, OrderShipped, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

/** The previous release of the fixture model: ItemAdded at version 1, before `quantity` became `qty`. */
const ItemAddedV1 = defineEvent({
  type: 'ItemAdded',
  schema: z.object({ sku: z.string().min(1), quantity: z.number().int().positive(), price: z.number().nonnegative() }),
});
const OrderV1 = defineAggregate({
  type: 'Order',
  events: [OrderPlaced, ItemAddedV1, OrderShipped],
  initialState: () => ({ total: 0 }),
  reducers: {
    OrderPlaced: (state) => state,
    ItemAdded: (state, event) => ({ total: state.total + event.data.quantity * event.data.price }),
    OrderShipped: (state) => state,
  },
});
const RevenueV1 = defineProjection({
  name: 'revenue',
  events: [ItemAddedV1],
  initialState: () => ({ revenue: 0 }),
  handlers: { ItemAdded: (state, event) => ({ revenue: state.revenue + event.data.quantity * event.data.price }) },
});
const oldModel = { events: [OrderPlaced, ItemAddedV1, OrderShipped], aggregates: [OrderV1] } as const;

interface Charge {
  id: string;
  app: 'old' | 'new';
  amount: number;
  ctx: ReactionContext;
}

/** The same payments reaction in each release, each reading ItemAdded in its own shape. */
const chargeOld = (log: Charge[]) =>
  defineReaction({
    name: 'charge',
    events: [ItemAddedV1],
    handlers: {
      ItemAdded: (event, ctx) => void log.push({ id: event.id, app: 'old', amount: event.data.quantity * event.data.price, ctx }),
    },
  });
const chargeNew = (log: Charge[]) =>
  defineReaction({
    name: 'charge',
    events: [ItemAdded],
    handlers: { ItemAdded: (event, ctx) => void log.push({ id: event.id, app: 'new', amount: event.data.qty * event.data.price, ctx }) },
  });

const confirmed = (id: string, seq: number, version: number, data: unknown): StoredEvent => ({
  id,
  aggregateId: 'o1',
  aggregateType: 'Order',
  seq,
  type: 'ItemAdded',
  version,
  data,
  meta: { occurredAt: 1, clientId: 'another-device', clientSeq: seq },
  position: seq,
});

/** Two builds' "sold" projection, counting in `folds` the events each build's handler folds (version 2 changed the handler). */
const countingSold = (folds: Record<'old' | 'new', number>, build: 'old' | 'new') =>
  defineProjection({
    name: 'sold',
    version: build === 'old' ? 1 : 2,
    events: [ItemAdded],
    initialState: () => ({ items: 0 }),
    handlers: {
      ItemAdded: (state, event) => {
        folds[build]++;
        return { items: state.items + event.data.qty };
      },
    },
  });

describe.each(modes)('two app versions on one log ($mode)', ({ worker }) => {
  it('an event of a newer version than the app defines reads as unreadable, as stored, and no reducer or projection folds it', async () => {
    const store = await openTestStore({ ...oldModel, worker, projections: [RevenueV1] });
    try {
      await store.importConfirmed([
        confirmed('e1', 1, 1, { sku: 'a', quantity: 2, price: 5 }),
        confirmed('e2', 2, 2, { sku: 'b', qty: 3, price: 7 }),
      ]);
      const [older, newer] = await collect(store.readStream('o1'));
      expect(older).toMatchObject({ known: true, version: 1, storedVersion: 1 });
      expect(newer).toMatchObject({ known: false, version: 2, storedVersion: 2, data: { sku: 'b', qty: 3, price: 7 } });
      // The old reducer would have read quantity (undefined) and made the total NaN.
      expect(await store.load(OrderV1, 'o1')).toMatchObject({ state: { total: 10 }, version: 2, eventsApplied: 2, unknownEvents: 1 });
      // The projection stops before it (its stored cursor too), for a build that can read it to fold.
      await eventually(async () => expect(await store.projection(RevenueV1).get()).toMatchObject({ state: { revenue: 10 }, applied: 1 }));
    } finally {
      await store.dispose();
    }
  });

  it('what the old app stored (projection record, snapshots) leaves a newer event for the new app to fold', async () => {
    const old = await openTestStore({ ...oldModel, worker, projections: [RevenueV1] });
    const { name } = old;
    await old.importConfirmed([
      confirmed('e1', 1, 1, { sku: 'a', quantity: 2, price: 5 }),
      confirmed('e2', 2, 2, { sku: 'b', qty: 3, price: 7 }),
      confirmed('e3', 3, 1, { sku: 'c', quantity: 1, price: 1 }),
    ]);
    await eventually(async () => expect(await old.projection(RevenueV1).get()).toMatchObject({ state: { revenue: 10 }, applied: 1 }));
    // No snapshot past e2: this one says which it has (none).
    expect(await old.snapshot(OrderV1, 'o1')).toBe(0);
    await old.close();
    // The new release, with the same projection name and version (its handler reads qty), and Order's reducers.
    const RevenueV2 = defineProjection({
      name: 'revenue',
      events: [ItemAdded],
      initialState: () => ({ revenue: 0 }),
      handlers: { ItemAdded: (state, event) => ({ revenue: state.revenue + event.data.qty * event.data.price }) },
    });
    const current = await openTestStore({ ...model, worker, name, projections: [RevenueV2] });
    try {
      await eventually(async () => expect(await current.projection(RevenueV2).get()).toMatchObject({ state: { revenue: 32 }, applied: 3 }));
      expect(await current.load(model.aggregates[0], 'o1')).toMatchObject({ state: { total: 32 }, snapshotVersion: 0 });
    } finally {
      await current.dispose();
    }
  });

  it('the new app still upcasts old events and reads its own', async () => {
    const store = await openTestStore({ ...model, worker, projections: [Revenue] });
    try {
      await store.importConfirmed([
        confirmed('e1', 1, 1, { sku: 'a', quantity: 2, price: 5 }),
        confirmed('e2', 2, 2, { sku: 'b', qty: 3, price: 7 }),
      ]);
      const events = await collect(store.readStream('o1'));
      expect(events.map((e) => [e.known, e.version, e.storedVersion])).toEqual([
        [true, 2, 1],
        [true, 2, 2],
      ]);
      expect((await store.load(model.aggregates[0], 'o1')).state.total).toBe(31);
      await eventually(async () => expect((await store.projection(Revenue).get()).state).toMatchObject({ items: 5, revenue: 31 }));
    } finally {
      await store.dispose();
    }
  });

  it('a tab of the old app stops its reaction before a newer event and hands it to the new app’s tab: charged once, in the new shape', async () => {
    const charges: Charge[] = [];
    const old = await openTestStore({ ...oldModel, worker, reactions: [chargeOld(charges)] });
    await eventually(async () => expect((await old.reactions.status())[0]?.leader).toBe(true));
    const current = await openTestStore({ ...model, worker, name: old.name, reactions: [chargeNew(charges)] });
    try {
      await old.append('o1', [{ type: 'ItemAdded', data: { sku: 'a', quantity: 1, price: 4 } }]);
      await eventually(() => expect(charges.map((c) => [c.app, c.amount])).toEqual([['old', 4]]));
      // The new release writes version 2: the old tab cannot read it and must not pass it by.
      const {
        events: [written],
      } = await current.append('o1', [{ type: 'ItemAdded', data: { sku: 'b', qty: 3, price: 5 } }]);
      await eventually(() =>
        expect(charges.map((c) => [c.app, c.amount])).toEqual([
          ['old', 4],
          ['new', 15],
        ]),
      );
      expect(charges[1]).toMatchObject({ id: written!.id, ctx: { redelivery: false, attempt: 1 } });
      await eventually(async () =>
        expect((await current.reactions.status())[0]).toMatchObject({ leader: true, caughtUp: true, unreadable: null }),
      );
      // The event done with, the old tab asks for the lock again, behind the new one.
      await eventually(async () => expect((await old.reactions.status())[0]).toMatchObject({ leader: false, unreadable: null }));
      await current.append('o1', [{ type: 'ItemAdded', data: { sku: 'c', qty: 1, price: 1 } }]);
      await eventually(() => expect(charges.map((c) => c.app)).toEqual(['old', 'new', 'new']));
      // The new tab closes: the old one runs the reaction again, for what it can read (its own orders).
      await current.close();
      await old.append('o1', [{ type: 'ItemAdded', data: { sku: 'd', quantity: 2, price: 3 } }]);
      await eventually(() =>
        expect(charges.map((c) => [c.app, c.amount])).toEqual([
          ['old', 4],
          ['new', 15],
          ['new', 1],
          ['old', 6],
        ]),
      );
      expect((await old.reactions.status())[0]).toMatchObject({ leader: true, unreadable: null });
    } finally {
      await current.close();
      await old.dispose();
    }
    expect(new Set(charges.map((c) => c.id)).size).toBe(charges.length);
  });

  it('a retry of a parked newer event waits for a tab that can read it, and holds up nothing in the old tab meanwhile', async () => {
    const charges: Charge[] = [];
    let declining = true;
    const chargeNewDeclining = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1,
      handlers: {
        ItemAdded: (event, ctx) => {
          if (declining) throw new Error('card declined');
          charges.push({ id: event.id, app: 'new', amount: event.data.qty * event.data.price, ctx });
        },
      },
    });
    const first = await openTestStore({ ...model, worker, reactions: [chargeNewDeclining] });
    const { name } = first;
    await eventually(async () => expect((await first.reactions.status())[0]?.leader).toBe(true));
    const {
      events: [written],
    } = await first.append('o1', [{ type: 'ItemAdded', data: { sku: 'b', qty: 3, price: 5 } }]);
    await eventually(async () => expect((await first.reactions.status())[0]?.parked).toBe(1));
    await first.close();
    // An old tab leads now; the new build opens again and waits for the lock.
    const old = await openTestStore({ ...oldModel, worker, name, reactions: [chargeOld(charges)] });
    await eventually(async () => expect((await old.reactions.status())[0]?.leader).toBe(true));
    const again = await openTestStore({ ...model, worker, name, reactions: [chargeNewDeclining] });
    try {
      declining = false;
      await again.reactions.retry('charge', written!.id);
      // The old tab cannot read it: the retry stays asked for, and the old tab charges its own orders meanwhile.
      await old.append('o2', [{ type: 'ItemAdded', data: { sku: 'c', quantity: 1, price: 2 } }]);
      await eventually(() => expect(charges.map((c) => [c.app, c.amount])).toEqual([['old', 2]]));
      expect(await again.reactions.parked('charge')).toMatchObject([{ eventId: written!.id, retryRequested: true }]);
      expect((await old.reactions.status())[0]).toMatchObject({ leader: true, unreadable: null });
      // The old tab closes: the new build leads and makes the retry, once.
      await old.close();
      await eventually(() =>
        expect(charges.map((c) => [c.app, c.amount])).toEqual([
          ['old', 2],
          ['new', 15],
        ]),
      );
      await eventually(async () => expect((await again.reactions.status())[0]).toMatchObject({ leader: true, parked: 0 }));
    } finally {
      await again.close();
      await old.dispose();
    }
  });

  it('with only the old app open, a newer event waits (nothing charged, nothing skipped) until the new app opens', async () => {
    const charges: Charge[] = [];
    const old = await openTestStore({ ...oldModel, worker, reactions: [chargeOld(charges)] });
    const name = old.name;
    let current: Awaited<ReturnType<typeof openTestStore<typeof model.events, typeof model.aggregates>>> | undefined;
    try {
      await eventually(async () => expect((await old.reactions.status())[0]?.leader).toBe(true));
      // Pulled from a device already on the new release (a confirmed event), then one of the old shape after it.
      const { clientId } = await old.info();
      await old.importConfirmed([
        { ...confirmed('n1', 1, 2, { sku: 'b', qty: 3, price: 5 }), meta: { occurredAt: 1, clientId, clientSeq: 1 } },
        { ...confirmed('n2', 2, 1, { sku: 'c', quantity: 1, price: 2 }), meta: { occurredAt: 1, clientId, clientSeq: 2 } },
      ]);
      await eventually(async () =>
        expect((await old.reactions.status())[0]).toMatchObject({ leader: false, caughtUp: false, unreadable: { eventId: 'n1' } }),
      );
      expect(charges).toEqual([]);
      await old.close();
      current = await openTestStore({ ...model, worker, name, reactions: [chargeNew(charges)] });
      await eventually(() =>
        expect(charges.map((c) => [c.id, c.app, c.amount])).toEqual([
          ['n1', 'new', 15],
          ['n2', 'new', 2],
        ]),
      );
      expect(charges.every((c) => !c.ctx.redelivery)).toBe(true);
    } finally {
      if (current) await current.dispose();
      else await old.dispose();
    }
  });

  it('tabs of two builds with different projection versions fold each event once, and the newer keeps the stored record', async () => {
    const folds = { old: 0, new: 0 };
    const counting = (build: 'old' | 'new') => countingSold(folds, build);
    const old = await openTestStore({ ...model, worker, projections: [counting('old')] });
    const current = await openTestStore({ ...model, worker, name: old.name, projections: [counting('new')] });
    try {
      const [soldOld, soldNew] = [old.projection(counting('old')), current.projection(counting('new'))];
      // Each tab appends in turn and reads its projection: before, each catch-up found the other build's
      // record, replaced it and folded the whole log again (quadratic: ~860 folds per tab for 40 events).
      for (let i = 0; i < 20; i++) {
        await (i % 2 === 0 ? old : current).append(`o${i}`, [{ type: 'ItemAdded', data: { sku: 's', qty: 1, price: 1 } }]);
        expect((await soldOld.get()).state).toEqual({ items: i + 1 });
        expect((await soldNew.get()).state).toEqual({ items: i + 1 });
      }
      expect(folds.new).toBe(20);
      // The old tab folds in memory, once from the start when the newer record took the name's place.
      expect(folds.old).toBeLessThanOrEqual(21);

      // A rebuild in the old tab leaves the newer build's record as it is: the new tab folds nothing again.
      await soldOld.rebuild();
      await current.append('o-last', [{ type: 'ItemAdded', data: { sku: 's', qty: 1, price: 1 } }]);
      expect((await soldNew.get()).state).toEqual({ items: 21 });
      expect(folds.new).toBe(21);
      expect((await soldOld.get()).state).toEqual({ items: 21 });
    } finally {
      await old.close();
      await current.dispose();
    }
  });

  it("a tab of an older build leaves a newer reducer version's snapshot in place", async () => {
    /** Order's item count, as two releases define it: version 2 changed a reducer. */
    const counted = (version: number) =>
      defineAggregate({
        type: 'Order',
        version,
        events: [OrderPlaced, ItemAdded],
        initialState: () => ({ items: 0 }),
        reducers: { OrderPlaced: (state) => state, ItemAdded: (state, event) => ({ items: state.items + event.data.qty }) },
      });
    const current = await openTestStore({ ...model, worker });
    const old = await openTestStore({ ...model, worker, name: current.name });
    try {
      await current.append('o1', [
        { type: 'OrderPlaced', data: { customerId: 'c' } },
        { type: 'ItemAdded', data: { sku: 'a', qty: 2, price: 1 } },
      ]);
      expect(await current.snapshot(counted(2), 'o1')).toBe(2);
      // The old build folds the stream itself, and says it has no snapshot of its own: it stored none.
      expect(await old.snapshot(counted(1), 'o1')).toBe(0);
      expect(await old.load(counted(1), 'o1')).toMatchObject({ state: { items: 2 }, snapshotVersion: 0 });
      // Before, the old build's snapshot replaced the newer one, and the new build folded from the first event.
      expect(await current.load(counted(2), 'o1')).toMatchObject({ state: { items: 2 }, snapshotVersion: 2 });
    } finally {
      await old.close();
      await current.dispose();
    }
  });

  it('after a rollback that kept the version, the older build may forget the newer record, and stores its own again', async () => {
    const folds = { old: 0, new: 0 };
    const counting = (build: 'old' | 'new') => countingSold(folds, build);
    const released = await openTestStore({ ...model, worker, projections: [counting('new')] });
    const { name } = released;
    await released.append('o1', [{ type: 'ItemAdded', data: { sku: 's', qty: 1, price: 1 } }]);
    await expect.poll(async () => (await released.projection(counting('new')).get()).applied).toBe(1);
    await released.close();
    // Rolled back: the old build again, its projection still at version 1.
    const old = await openTestStore({ ...model, worker, name, projections: [counting('old')] });
    let again: typeof old | undefined;
    try {
      expect((await old.projection(counting('old')).get()).state).toEqual({ items: 1 });
      // The newer build's record is not this store's: it may go. Then the old build stores its own.
      await expect(old.forget({ kind: 'projection', name: 'sold' })).resolves.toEqual({ forgotten: true });
      expect((await old.projection(counting('old')).get()).state).toEqual({ items: 1 });
      // Its own version's record is in use: refused, as before.
      await expect(old.forget({ kind: 'projection', name: 'sold' })).rejects.toMatchObject({ code: 'IN_USE', where: 'this-store' });
      await old.close();
      // Its record is stored now: another tab of it starts from there, folding nothing again.
      const before = folds.old;
      again = await openTestStore({ ...model, worker, name, projections: [counting('old')] });
      expect((await again.projection(counting('old')).get()).state).toEqual({ items: 1 });
      expect(folds.old).toBe(before);
    } finally {
      if (again) await again.dispose();
      else await old.dispose();
    }
  });
});
