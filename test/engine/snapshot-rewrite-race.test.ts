import { describe, expect, it } from 'vitest';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { renumberPending } from '../../worker/rebase.ts';
import { ItemAdded, model, OrderPlaced } from '../fixtures/model.ts';
import { collect } from './modes.ts';

/**
 * A load stores its snapshot in a transaction of its own, after it folded
 * the events it read. When the sync rewrites the pending events in between
 * (rejects one, rebases them: a commit of the engine's sync loop while the
 * load folds), the snapshot must not be stored: it holds events no longer at
 * those seqs, and no later rebase is there to drop it.
 */

/** Called by the reducer while a load folds: the test commits its rewrite there, between the load's read and its snapshot. */
let duringFold: (() => void) | undefined;

const Order = defineAggregate({
  type: 'Order',
  events: [OrderPlaced, ItemAdded],
  snapshotEvery: 2,
  initialState: () => ({ total: 0 }),
  reducers: {
    OrderPlaced: (state) => state,
    ItemAdded: (state, event) => {
      const hook = duringFold;
      duringFold = undefined;
      hook?.();
      return { total: state.total + event.data.qty * event.data.price };
    },
  },
});

describe('a snapshot taken while the sync rewrites the pending events', () => {
  it('is not stored over the rewrite: the next loads equal the fold of the log', async () => {
    const store = await openTestStore({ events: model.events, aggregates: [Order], worker: false });
    const db = await openChronicleDb(store.name, { onGone: () => undefined });
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      const [refused] = (await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'big', qty: 1, price: 10 } }])).events;
      let rejection: Promise<unknown> | undefined;
      // The server refuses the item for good; the engine's transaction for it starts while the load folds.
      duringFold = () => {
        rejection = renumberPending(db, 1, new Map([[refused!.id, { code: 'PAYLOAD_TOO_LARGE', reason: 'too large' }]]));
      };
      const during = await store.load(Order, 'o1');
      expect(during.state.total).toBe(10); // what the log held when the load read it
      await rejection;
      expect((await collect(store.readLog())).map((e) => e.seq)).toEqual([1]);

      const after = await store.load(Order, 'o1');
      expect(after).toMatchObject({ version: 1, state: { total: 0 } });
      await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'tea', qty: 2, price: 3 } }]);
      expect(await store.load(Order, 'o1')).toMatchObject({ version: 2, state: { total: 6 } });
    } finally {
      db.close();
      await store.dispose();
    }
  });
});
