// A projection listed in openStore's `projections` brings its event types to
// the store, as an aggregate and a reaction do. Before, a type only the
// projection defined (a refund view over events another device appends) was
// read as an unknown event, and the projection stopped before the first one
// for good, waiting for a build that could read it: this one could.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StoredEvent } from '../../src/core/event.ts';
import { defineEvent } from '../../src/core/event.ts';
import { defineProjection } from '../../src/core/projection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

const Refunded = defineEvent({ type: 'Refunded', schema: z.object({ orderId: z.string(), amount: z.number() }) });
const Refunds = defineProjection({
  name: 'refunds',
  events: [Refunded],
  initialState: () => ({ count: 0, amount: 0 }),
  handlers: { Refunded: (state, event) => ({ count: state.count + 1, amount: state.amount + event.data.amount }) },
});

/** A refund another device appended, as a sync pull stores it. */
const refund = (position: number, amount: number): StoredEvent => ({
  id: `r${position}`,
  aggregateId: `refund-${position}`,
  aggregateType: 'Refund',
  seq: 1,
  type: 'Refunded',
  version: 1,
  data: { orderId: `o${position}`, amount },
  meta: { occurredAt: 1, clientId: 'till-2', clientSeq: position },
  position,
});

/** A projection written against its own copy of a type the model defines (another module's defineEvent). */
const OwnItemAdded = defineEvent({ type: 'ItemAdded', schema: z.object({ sku: z.string(), qty: z.number(), price: z.number() }) });
const Items = defineProjection({
  name: 'items',
  events: [OwnItemAdded],
  initialState: () => 0,
  handlers: { ItemAdded: (n: number) => n + 1 },
});

describe.each(modes)("a listed projection's event types ($mode)", ({ worker }) => {
  it('are the store’s: its events are read and folded, not stopped at as unknown', async () => {
    const store = await openTestStore({ ...model, worker, projections: [Refunds] });
    try {
      await store.importConfirmed([refund(1, 5), refund(2, 7)]);
      await expect.poll(async () => (await store.projection(Refunds).get()).state).toEqual({ count: 2, amount: 12 });
      const [first] = await collect(store.readLog());
      expect(first).toMatchObject({ known: true, type: 'Refunded' });
    } finally {
      await store.dispose();
    }
  });

  it('leave a type the store defines to the store’s own definition (no “defined twice”)', async () => {
    const store = await openTestStore({ ...model, worker, projections: [Items] });
    try {
      await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1, price: 2 } }]);
      await expect.poll(async () => (await store.projection(Items).get()).state).toBe(1);
    } finally {
      await store.dispose();
    }
  });
});
