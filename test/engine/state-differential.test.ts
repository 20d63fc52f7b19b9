import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore, uniqueStoreName, deleteTestDatabase } from '../../src/testing/index.ts';
import { aggregateRuntime } from '../../src/core/aggregate.ts';
import { model, Order, Revenue } from '../fixtures/model.ts';
import { seededRandom } from '../fixtures/seeded-random.ts';

/**
 * Differential check: after a scripted random sequence (appends here,
 * confirmed events of another device, snapshots on demand, loads that store
 * snapshots, projection reads and rebuilds, compaction, close and reopen),
 * every load and the projection equal the fold of every event ever written,
 * kept by the test on the side (compaction drops the log's first events).
 */

type Item = { sku: string; qty: number; price: number };
const { reducers } = aggregateRuntime(Order);

function open(name: string) {
  return openTestStore({ ...model, name, projections: [Revenue], worker: false });
}

describe('loads and projections equal a full fold (seeded random sequences)', () => {
  it.each([1, 2, 3])('seed %i', async (seed) => {
    const next = seededRandom(seed);
    const pick = (n: number) => Math.floor(next() * n);
    const name = uniqueStoreName('differential');
    // Two tabs on one database: each step runs in one of them, and every check reads the other's writes too.
    const tabs = [await open(name), await open(name)];
    let store = tabs[0]!;
    // Every event written, per aggregate, in seq order: the truth the store is checked against.
    const written = new Map<string, { type: string; data: unknown }[]>();
    let revenue = 0;
    let items = 0;
    let position = 0;
    const theirs: StoredEvent[] = [];
    const record = (id: string, type: string, data: unknown) => {
      const list = written.get(id) ?? [];
      list.push({ type, data });
      written.set(id, list);
      if (type === 'ItemAdded') {
        const item = data as Item;
        revenue += item.qty * item.price;
        items += item.qty;
      }
    };
    const check = async (id: string) => {
      let state: unknown = Order.initialState();
      for (const event of written.get(id) ?? []) state = reducers[event.type]!(state, event);
      const loaded = await store.load(Order, id);
      expect(loaded.state).toEqual(state);
      expect(loaded.version).toBe(written.get(id)?.length ?? 0);
    };
    try {
      for (let step = 0; step < 120; step++) {
        const tab = pick(2);
        store = tabs[tab]!;
        const op = pick(10);
        const mine = `o${pick(3)}`;
        if (op <= 3) {
          const batch = Array.from({ length: 1 + pick(30) }, (_, i) => ({ sku: `s${step}-${i}`, qty: 1 + pick(3), price: 1 + pick(5) }));
          await store.append(
            mine,
            batch.map((data) => ({ type: 'ItemAdded' as const, data })),
          );
          for (const data of batch) record(mine, 'ItemAdded', data);
        } else if (op === 4) {
          // Another device's confirmed events, to orders this device does not write.
          const id = `t${pick(2)}`;
          const count = 1 + pick(60);
          const events: StoredEvent[] = [];
          for (let i = 0; i < count; i++) {
            const data = { sku: `t${step}-${i}`, qty: 1, price: 2 };
            const seq = (written.get(id)?.length ?? 0) + 1;
            record(id, 'ItemAdded', data);
            events.push({
              id: `theirs-${seed}-${step}-${i}`,
              aggregateId: id,
              aggregateType: 'Order',
              seq,
              type: 'ItemAdded',
              version: 2,
              data,
              meta: { occurredAt: Date.now(), clientId: 'other-device', clientSeq: theirs.length + 1 },
              position: ++position,
            });
            theirs.push(events.at(-1)!);
          }
          await store.importConfirmed(events);
        } else if (op === 5) {
          const id = written.size > 0 ? [...written.keys()][pick(written.size)]! : mine;
          if (written.has(id)) await store.snapshot(Order, id);
        } else if (op === 6) {
          await store.close();
          store = tabs[tab] = await open(name);
        } else if (op === 7) {
          if (next() < 0.3)
            await store
              .projection(Revenue)
              .rebuild()
              .catch((error: unknown) => expect(String(error)).toMatch(/compact/i));
          else await store.compact({ retention: { maxEvents: 20 }, measure: false });
        } else {
          await check(written.size > 0 ? [...written.keys()][pick(written.size)]! : mine);
        }
        if (step % 10 === 9) {
          const got = await store.projection(Revenue).get();
          expect({ revenue: got.state.revenue, items: got.state.items }).toEqual({ revenue, items });
        }
      }
      for (const tab of tabs) {
        store = tab;
        for (const id of written.keys()) await check(id);
        await tab.close();
      }
      store = tabs[0] = await open(name);
      for (const id of written.keys()) await check(id);
      const got = await store.projection(Revenue).get();
      expect({ revenue: got.state.revenue, items: got.state.items }).toEqual({ revenue, items });
    } finally {
      for (const tab of tabs) await tab.close();
      await deleteTestDatabase(name);
    }
  });
});
