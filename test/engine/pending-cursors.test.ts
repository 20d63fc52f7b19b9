import { describe, expect, it } from 'vitest';
import type { LogCursor } from '../../src/core/cursor.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { applyRebase, planRebase, renumberPending } from '../../worker/rebase.ts';
import { Order } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * A place in the pending area stays the place of the same event when the
 * sync takes other events out of its page. A sync confirms a page of an
 * appendBatch in parts (pushes are bounded), and the page is written again
 * with the events left: a cursor taken before (from scan, a projection, time
 * travel, devtools) must still name its event, so that a read resumed after
 * it hands over exactly the events after it. (test/sync/pending-cursors does
 * the same through a real server and a push limit.)
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const skuOf = (event: { data: unknown }) => (event.data as { sku: string }).sku;
const skus = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `s${from + i}`);

type Store = Awaited<ReturnType<typeof openOrderStore>>;

/** What a sync pull does when the server confirms this client's first `count` pending events: same ids, with positions. */
async function confirmPending(store: Store, count: number): Promise<void> {
  const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
  const pending = stored.filter((e) => e.position === undefined);
  const head = stored.length - pending.length;
  await store.importConfirmed(pending.slice(0, count).map((e, i) => ({ ...e, position: head + i + 1 })));
}

/** The pending events' places, by sku. */
async function pendingPlaces(store: Store): Promise<Map<string, LogCursor>> {
  const entries = (await collect(store.scan({ status: 'pending' }))).flat();
  return new Map(entries.map((e) => [skuOf(e.event), e.cursor]));
}

async function skusOf(events: AsyncIterable<{ data: unknown }>): Promise<string[]> {
  return (await collect(events)).map(skuOf);
}

describe.each(modes)('pending cursors across a partial confirmation ($mode)', ({ worker }) => {
  it('a read resumed after a pending cursor hands over the events after it, once the sync confirmed part of its page', async () => {
    const store = await openOrderStore(worker);
    try {
      // One append of ten events to one aggregate: one pending page.
      await store.append('o-1', skus(0, 9).map(item));
      const before = await pendingPlaces(store);
      expect(new Set([...before.values()].map((c) => `${c.area}/${c.page}`)).size).toBe(1);
      const at6 = before.get('s6')!;
      expect(await skusOf(store.readLog({ status: 'pending', after: at6 }))).toEqual(skus(7, 9));

      // The first push of a bounded sync confirms s0..s3; the page is written again with s4..s9.
      await confirmPending(store, 4);
      expect((await store.info()).pendingEvents).toBe(6);

      expect(await skusOf(store.readLog({ status: 'pending', after: at6 }))).toEqual(skus(7, 9));
      // The events left keep their places.
      const after = await pendingPlaces(store);
      expect([...after.keys()]).toEqual(skus(4, 9));
      for (const [sku, cursor] of after) expect(cursor, sku).toEqual(before.get(sku));
      expect(await skusOf(store.readLog({ status: 'pending', after: before.get('s4')! }))).toEqual(skus(5, 9));
      expect(await skusOf(store.readLog({ status: 'pending', after: before.get('s9')! }))).toEqual([]);
      // scan too: the same events, at the same places.
      const resumed = (await collect(store.scan({ status: 'pending', after: at6 }))).flat();
      expect(resumed.map((e) => [skuOf(e.event), e.cursor])).toEqual(skus(7, 9).map((s) => [s, before.get(s)]));
    } finally {
      await store.dispose();
    }
  });

  it('the whole log read up to a pending event, resumed after a sync: every event exactly once, the confirmed ones included', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o-0', [item('x0'), item('x1')]);
      await confirmPending(store, 2); // some confirmed history first
      await store.append('o-1', skus(0, 9).map(item));
      await store.append('o-2', [item('t0'), item('t1')]);
      // A reader reads the whole log up to s6, and stops there.
      const seen: string[] = [];
      let stoppedAt: LogCursor | undefined;
      outer: for await (const batch of store.scan({}, { batchEvents: 1 })) {
        for (const { event, cursor } of batch) {
          seen.push(skuOf(event));
          if (skuOf(event) === 's6') {
            stoppedAt = cursor;
            break outer;
          }
        }
      }
      expect(seen).toEqual(['x0', 'x1', ...skus(0, 6)]);

      // The sync confirms s0..s5: they move into the confirmed area, behind the reader's place.
      await confirmPending(store, 6);
      const rest = await skusOf(store.readLog({ after: stoppedAt! }));
      expect(rest).toEqual([...skus(7, 9), 't0', 't1']);
      const all = [...seen, ...rest];
      expect(all.sort()).toEqual([...(await skusOf(store.readLog()))].sort());
      expect(new Set(all).size).toBe(all.length);
    } finally {
      await store.dispose();
    }
  });

  it('a rebase-free confirmation leaves time travel and inspect at the same event', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o-1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, ...skus(1, 9).map(item)]);
      const entries = (await collect(store.scan({ status: 'pending' }))).flat();
      const at6 = entries[6]!.cursor; // seq 7
      expect((await store.inspect(Order, 'o-1', { until: at6 })).version).toBe(7);
      await confirmPending(store, 3);
      expect((await store.inspect(Order, 'o-1', { until: at6 })).version).toBe(7);
      store.timeTravel.to(at6);
      expect((await store.load(Order, 'o-1')).version).toBe(7);
      store.timeTravel.resume();
      expect((await store.load(Order, 'o-1')).version).toBe(10);
    } finally {
      await store.dispose();
    }
  });

  it('a rebase that drops an event, or a refusal, leaves the other events of its page at their places', async () => {
    const store = await openOrderStore(worker);
    try {
      // One commit, one page: o1's event first, then o2's four.
      const results = await store.appendBatch([
        { aggregateId: 'o1', events: [item('drop-me')] },
        { aggregateId: 'o2', events: ['a', 'b', 'c', 'refused'].map(item) },
      ]);
      const [drop] = results[0]!.events;
      const refused = results[1]!.events[3]!;
      const before = await pendingPlaces(store);
      expect(new Set([...before.values()].map((c) => c.page)).size).toBe(1);
      // Another device's event took o1's seq 1 on the server.
      const theirs: StoredEvent = {
        ...drop!,
        id: 'theirs-1',
        data: { sku: 'theirs', qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'another-device', clientSeq: 1 },
        position: 1,
      };
      await store.importConfirmed([theirs]);
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const plan = await planRebase(db);
        await applyRebase(db, plan, new Map([[drop!.id, { action: 'drop' as const, reason: 'out of stock' }]]));
        const afterRebase = await pendingPlaces(store);
        expect([...afterRebase.keys()]).toEqual(['a', 'b', 'c', 'refused']);
        for (const [sku, cursor] of afterRebase) expect(cursor, sku).toEqual(before.get(sku));
        expect(await skusOf(store.readLog({ status: 'pending', after: before.get('a')! }))).toEqual(['b', 'c', 'refused']);

        // The server refuses o2's last event for good: the rest are renumbered, their places kept.
        await renumberPending(db, 1, new Map([[refused.id, { code: 'POISON', reason: 'refused' }]]));
      } finally {
        db.close();
      }
      const afterRefusal = await pendingPlaces(store);
      expect([...afterRefusal.keys()]).toEqual(['a', 'b', 'c']);
      for (const [sku, cursor] of afterRefusal) expect(cursor, sku).toEqual(before.get(sku));
      expect(await skusOf(store.readLog({ status: 'pending', after: before.get('b')! }))).toEqual(['c']);
      await store.append('o3', [item('later')]);
      expect(await skusOf(store.readLog({ status: 'pending', after: before.get('c')! }))).toEqual(['later']);
      expect(await skusOf(store.readLog({ status: 'pending', after: before.get('refused')! }))).toEqual(['later']);
    } finally {
      await store.dispose();
    }
  });
});
