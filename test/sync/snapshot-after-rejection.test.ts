import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Order } from '../fixtures/model.ts';
import { eventually } from '../engine/modes.ts';
import { openClient, startServer, type Client, type Harness } from './harness.ts';

/**
 * A snapshot that covers a pending event the server then refuses for good
 * must not outlive it: the load is the fold of what the log holds. When the
 * refused event was its aggregate's last pending one, no rebase follows (the
 * events left still follow the confirmed head), so nothing else drops it.
 */

let harness: Harness;
beforeAll(async () => {
  // Events over 600 bytes are refused for good (413, naming the event); the client's own limit is larger.
  harness = await startServer({ limits: { maxEventBytes: 600, rateLimit: false } });
});
afterAll(() => harness.close());

/** The aggregate folded from every event of the log, in log order, by the current reducers. */
async function fullFold(client: Client, aggregateId: string): Promise<{ state: unknown; version: number }> {
  let state: unknown = Order.initialState();
  let version = 0;
  const reducers = Order.reducers as Record<string, (s: unknown, e: unknown) => unknown>;
  for await (const event of client.readLog({ aggregateIds: [aggregateId] })) {
    state = reducers[event.type]!(state, event);
    version = event.seq;
  }
  return { state, version };
}

describe('a snapshot over a pending event the server rejects', () => {
  it('is not used once the event is rejected: load() equals the fold of the log, also after the next append', async () => {
    const a = await openClient(harness.url, { log: 'snapshot-rejection' });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await a.sync.pause();
      await a.append('o1', [{ type: 'ItemAdded', data: { sku: 'x'.repeat(1000), qty: 1, price: 10 } }]);
      await a.snapshot(Order, 'o1'); // covers seq 2, the event the server will refuse
      await a.sync.resume();
      await a.sync.syncNow();
      await eventually(async () => expect(await a.sync.rejected()).toHaveLength(1));

      expect(await a.load(Order, 'o1')).toMatchObject(await fullFold(a, 'o1'));
      expect((await a.load(Order, 'o1')).state.total).toBe(0);

      // The next event takes seq 2 again: it is folded, not hidden behind the old snapshot.
      await a.append('o1', [{ type: 'ItemAdded', data: { sku: 'tea', qty: 2, price: 3 } }]);
      const loaded = await a.load(Order, 'o1');
      expect(loaded).toMatchObject(await fullFold(a, 'o1'));
      expect(loaded.state.total).toBe(6);
    } finally {
      await a.dispose();
    }
  });
});
