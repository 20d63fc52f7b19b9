import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAggregate } from '../../src/core/index.ts';
import { createRegistry, DEFAULT_MAX_EVENT_BYTES } from '../../src/core/registry.ts';
import { ItemAdded, OrderPlaced, OrderShipped } from '../fixtures/model.ts';
import { logOf, openClient, startServer, type Harness } from './harness.ts';

/**
 * A rebase rule's transform makes new data for a pending event, so it is
 * checked as an append's data is (DESIGN.md invariant 6): the event's schema
 * (defaults filled), plain JSON, the size limit. Data that fails turns the
 * transform into a drop with the reason, as a rule that throws does: the event
 * ends rejected, kept and explained. Before, a transform the schema refused
 * was stored and pushed, and one JSON could not encode failed the rebase half
 * done: a dropped event in `rejected` with no outcome, and the event meant to
 * be transformed pushed as it was.
 */
const Rebased = defineAggregate({
  type: 'Order',
  events: [OrderPlaced, ItemAdded, OrderShipped],
  initialState: () => ({}),
  reducers: { OrderPlaced: (s) => s, ItemAdded: (s) => s, OrderShipped: (s) => s },
  rebase: (event) => {
    if (event.type !== 'ItemAdded') return 'keep';
    const { sku } = event.data;
    if (sku === 'drop-me') return { drop: 'out of stock' };
    // The types rule this out; a rule in plain JavaScript (or a cast) can still return it.
    if (sku === 'bigint') return { transform: { ...event.data, price: 10n as unknown as number } };
    if (sku === 'negative') return { transform: { ...event.data, qty: -1 } };
    return { transform: { ...event.data, qty: 5 } };
  },
});

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe("a rebase rule's transform", () => {
  it('is stored when the schema takes it; otherwise the event is rejected with the reason, and the rest of the rebase stands', async () => {
    const a = await openClient(harness.url, { log: 'rebase-transform', aggregates: [Rebased] });
    const b = await openClient(harness.url, { log: 'rebase-transform', aggregates: [Rebased] });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.sync.pause();
      await a.append('o1', [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await a.sync.syncNow();
      await b.append('o1', [item('drop-me'), item('bigint'), item('negative'), item('ok')]);

      await b.sync.resume();
      await b.sync.syncNow();

      expect((await b.sync.status()).lastError).toBeNull();
      const rejected = Object.fromEntries((await b.sync.rejected()).map((r) => [(r.event.data as { sku: string }).sku, r.reason]));
      expect(rejected).toEqual({
        'drop-me': 'out of stock',
        bigint: expect.stringMatching(/^the rebase rule's transform is not a valid ItemAdded: data\.price: /),
        negative: expect.stringMatching(/^the rebase rule's transform is not a valid ItemAdded: data\.qty: /),
      });
      await a.sync.syncNow();
      const onServer = (await logOf(a)).map((e) => `${e.aggregateId}@${e.seq}`);
      expect(onServer).toEqual(['o1@1', 'o1@2', 'o1@3']);
      const stored = [];
      for await (const event of a.readStream('o1', { fromSeq: 3 })) stored.push(event);
      expect(stored).toMatchObject([{ seq: 3, type: 'ItemAdded', data: { sku: 'ok', qty: 5, price: 1 } }]);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('is counted for its size with the event’s own id, links and stream: at the limit it is pushed and stored, one byte more and it is rejected', async () => {
    // The largest carrier an OrderShipped with these ids and links takes, counted as append counts it (the server's limit is the same).
    const meta = { occurredAt: 1_732_000_000_000, correlationId: '"'.repeat(128), causationId: '\u20ac'.repeat(128) };
    const ids = { fit: `${'"'.repeat(127)}1`, over: `${'"'.repeat(127)}2` };
    const registry = createRegistry({ events: [OrderShipped] });
    const fits = (n: number): boolean => {
      try {
        registry.encode([{ id: ids.fit, type: 'OrderShipped', data: { carrier: 'z'.repeat(n) }, meta }], undefined, {
          aggregateId: 'o2',
          aggregateType: 'Order',
        });
        return true;
      } catch {
        return false;
      }
    };
    let largest = 0;
    for (let hi = DEFAULT_MAX_EVENT_BYTES; largest < hi;) {
      const mid = Math.ceil((largest + hi) / 2);
      if (fits(mid)) largest = mid;
      else hi = mid - 1;
    }
    const Sized = defineAggregate({
      type: 'Order',
      events: [OrderPlaced, OrderShipped],
      initialState: () => ({}),
      reducers: { OrderPlaced: (s) => s, OrderShipped: (s) => s },
      rebase: (event) => {
        if (event.type !== 'OrderShipped' || event.data.carrier === 'ups') return 'keep';
        return { transform: { carrier: 'z'.repeat(event.data.carrier === 'fit' ? largest : largest + 1) } };
      },
    });
    const a = await openClient(harness.url, { log: 'rebase-transform-size', aggregates: [Sized] });
    const b = await openClient(harness.url, { log: 'rebase-transform-size', aggregates: [Sized] });
    try {
      await a.append('o2', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.sync.pause();
      await a.append('o2', [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await a.sync.syncNow();
      await b.append('o2', [
        { id: ids.fit, type: 'OrderShipped', data: { carrier: 'fit' }, meta },
        { id: ids.over, type: 'OrderShipped', data: { carrier: 'over' }, meta },
      ]);

      await b.sync.resume();
      await b.sync.syncNow();

      expect((await b.sync.status()).lastError).toBeNull();
      const rejected = await b.sync.rejected();
      expect(rejected.map((r) => [r.event.id, r.reason])).toEqual([
        [
          ids.over,
          `the rebase rule's transform is not a valid OrderShipped: ${DEFAULT_MAX_EVENT_BYTES + 1} bytes, over the limit of ${DEFAULT_MAX_EVENT_BYTES}`,
        ],
      ]);
      await a.sync.syncNow();
      const stored = [];
      for await (const event of a.readStream('o2', { fromSeq: 3 })) stored.push(event);
      expect(stored).toMatchObject([{ id: ids.fit, seq: 3, meta }]);
      expect((stored[0]!.data as { carrier: string }).carrier).toHaveLength(largest);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
