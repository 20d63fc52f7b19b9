import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Revenue, StrictOrder } from '../fixtures/model.ts';
import { eventually } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * A projection's subscribers see what `get()` sees after a sync rejects this
 * client's pending events (a rebase rule drops them): the state without them.
 * The demo's order list kept showing a dropped item until the next event.
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

describe('a projection subscription across a rejection', () => {
  it('delivers the state without the rejected pending events, as get() returns it', async () => {
    const a = await openClient(harness.url, { aggregates: [StrictOrder], log: 'projection-rejection' });
    const b = await openClient(harness.url, { aggregates: [StrictOrder], log: 'projection-rejection' });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.sync.pause();
      await a.append('o1', [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await a.sync.syncNow();
      // Offline on b: two items added to the order that has shipped meanwhile.
      await b.append('o1', [
        { type: 'ItemAdded', data: { sku: 'late', qty: 1, price: 10 } },
        { type: 'ItemAdded', data: { sku: 'later', qty: 2, price: 10 } },
      ]);
      const seen: number[] = [];
      const stop = b.projection(Revenue).subscribe((snapshot) => seen.push(snapshot.state.items));
      await eventually(() => expect(seen.at(-1)).toBe(3));
      await b.sync.resume();
      await b.sync.syncNow();
      await eventually(async () => expect(await b.sync.rejected()).toHaveLength(2));
      const got = await b.projection(Revenue).get();
      expect(got.state.items).toBe(0);
      await eventually(() => expect(seen.at(-1)).toBe(0));
      stop();
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
