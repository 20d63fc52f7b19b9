import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { planRebase } from '../../worker/rebase.ts';
import { modes, openOrderStore } from './modes.ts';

/**
 * A sync round plans a rebase for the aggregates each pull touched
 * (planRebase with onlyAggregates). It reads only the pending pages those
 * aggregates' events are in, found by the stream index whatever kind of
 * commit holds them (a single append's page, a batch's pages, entries not
 * indexed yet), and no page at all when none of them has pending events: a
 * large backlog's sync no longer reads its whole queue for every pull of
 * another device's unrelated orders.
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

/** Counts IDBObjectStore.get calls on the `pages` store while `run` runs. */
async function pageGets<T>(run: () => Promise<T>): Promise<{ result: T; gets: number }> {
  const original = IDBObjectStore.prototype.get;
  let gets = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
    if (this.name === 'pages') gets++;
    return original.call(this, query);
  };
  try {
    return { result: await run(), gets };
  } finally {
    IDBObjectStore.prototype.get = original;
  }
}

describe.each(modes)('planRebase for some aggregates ($mode)', ({ worker }) => {
  it('finds their pending events in every kind of commit, and reads no page for aggregates with none', async () => {
    const store = await openOrderStore(worker);
    try {
      // o1's pending events: a single append (a page of its own), then inside a batch of many aggregates.
      const [first] = (await store.append('o1', [item('a')])).events;
      await store.appendBatch([
        ...Array.from({ length: 300 }, (_, i) => ({ aggregateId: `other-${i}`, events: [item('x'), item('y')] })),
        { aggregateId: 'o1', events: [item('b'), item('c')] },
      ]);
      for (let i = 0; i < 20; i++) await store.append(`more-${i}`, [item('z')]);
      // Another device took seq 1 of o1 on the server.
      const theirs: StoredEvent = {
        ...first!,
        id: 'theirs-1',
        meta: { occurredAt: 1, clientId: 'another-device', clientSeq: 1 },
        position: 1,
      };
      await store.importConfirmed([theirs]);

      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const everything = await pageGets(() => planRebase(db));
        const some = await pageGets(() => planRebase(db, ['o1', 'never-touched']));
        const none = await pageGets(() => planRebase(db, ['never-touched', 'other-unknown']));
        const o1 = (plan: Awaited<ReturnType<typeof planRebase>>) =>
          plan.conflicts.filter((c) => c.aggregateId === 'o1').map((c) => c.pending.map((e) => [e.seq, (e.data as { sku: string }).sku]));
        expect(o1(some.result)).toEqual([
          [
            [1, 'a'],
            [2, 'b'],
            [3, 'c'],
          ],
        ]);
        expect(o1(some.result)).toEqual(o1(everything.result));
        expect(some.result.conflicts).toHaveLength(1);
        expect(none.result.conflicts).toEqual([]);
        // All pending pages for the whole plan; only o1's few for its own; none for aggregates without pending events.
        expect(everything.gets).toBeGreaterThan(20);
        expect(some.gets).toBeLessThan(everything.gets / 2);
        expect(none.gets).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      await store.dispose();
    }
  });
});
