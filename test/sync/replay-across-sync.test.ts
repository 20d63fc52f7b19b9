import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * A named replay job stopped among pending events, rerun after a real sync
 * confirmed them or rebased them behind another device's events: each event
 * is handed over once (test/engine/replay-pending-moves.test.ts covers the
 * engine's side in Node and Chromium).
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const skuOf = (event: { data: unknown }) => (event.data as { sku: string }).sku;

type Client = Awaited<ReturnType<typeof openClient>>;

/** Runs the job until it has handed over `stopAfter` events into `handled`, then stops it with its signal. */
async function runAndStop(
  client: Client,
  name: string,
  stopAfter: number,
  handled: string[],
  filter?: { aggregateId: string; types: string[] },
) {
  const controller = new AbortController();
  await client
    .replay({
      name,
      ...(filter ? { filter } : {}),
      signal: controller.signal,
      handler(event) {
        handled.push(skuOf(event));
        if (handled.length === stopAfter) controller.abort();
      },
    })
    .catch(() => undefined);
}

describe('named replay jobs across a sync', () => {
  it('a whole-log job stopped among pending events: after a sync confirms them, the rerun hands over the rest once', async () => {
    const x = await openClient(harness.url, { log: 'replay-sync-1' });
    try {
      await x.sync.syncNow();
      await x.sync.pause(); // offline while the job runs
      for (const sku of ['a', 'b', 'c', 'd']) await x.append(`o-${sku}`, [item(sku)]);
      const handled: string[] = [];
      await runAndStop(x, 'receipts', 2, handled);
      expect(handled).toEqual(['a', 'b']);
      await x.sync.resume();
      await x.sync.syncNow();
      expect((await x.sync.status()).pending).toBe(0);
      await x.replay({ name: 'receipts', handler: (event) => void handled.push(skuOf(event)) });
      expect(handled.sort()).toEqual(['a', 'b', 'c', 'd']);
    } finally {
      await x.dispose();
    }
  });

  it("a one-aggregate job stopped cleanly: after a sync rebases its events behind another device's, the rerun hands over each once", async () => {
    const log = 'replay-sync-2';
    const x = await openClient(harness.url, { log });
    const y = await openClient(harness.url, { log });
    try {
      await x.sync.syncNow();
      await x.sync.pause(); // offline: x does not pull y's events yet
      await y.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'y' } }, item('y1')]);
      await y.sync.syncNow();
      await x.append('o1', ['a', 'b', 'c', 'd'].map(item)); // seq 1-4 here, for now
      const handled: string[] = [];
      const filter = { aggregateId: 'o1', types: ['ItemAdded'] };
      await runAndStop(x, 'o1-receipts', 2, handled, filter);
      expect(handled).toEqual(['a', 'b']);
      await x.sync.resume();
      await x.sync.syncNow();
      await x.sync.syncNow();
      expect((await x.sync.status()).pending).toBe(0);
      const seqs: number[] = [];
      for await (const e of x.readStream('o1')) seqs.push(e.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6]); // rebased behind y's two events
      await x.replay({ name: 'o1-receipts', filter, handler: (event) => void handled.push(skuOf(event)) });
      // x's events once each; y's y1 came into the stream before the rerun's place, so it is handed over too.
      expect(handled).toEqual(['a', 'b', 'y1', 'c', 'd']);
    } finally {
      await x.dispose();
      await y.dispose();
    }
  });
});
