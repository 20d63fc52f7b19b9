import { describe, expect, it } from 'vitest';
import { ConcurrencyError, ConfigError, HistoryCompactedError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes, openOrderStore } from './modes.ts';
import { history, importAll } from '../fixtures/history.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { planRebase } from '../../worker/rebase.ts';

/**
 * Compaction and retention (README, "Compaction / retention"): confirmed
 * history past the policy leaves the device in small transactions, pending
 * events never do, loads stay exact (base + tail), readers say where local
 * history starts or throw HistoryCompactedError, dropped ids stay refused.
 */

const DAY = 86_400_000;

describe.each(modes)('compaction and retention ($mode)', ({ worker }) => {
  it('drops confirmed pages past the policy, never pending ones, and says where local history starts', async () => {
    const store = await openOrderStore(worker);
    try {
      await importAll(store, history({ pages: 20, perPage: 50, orders: 5 }));
      await store.append('p1', [{ type: 'ItemAdded', data: { sku: 'x', qty: 1, price: 1 } }]);
      await store.append('p2', [{ type: 'ItemAdded', data: { sku: 'y', qty: 2, price: 1 } }]);
      const report = await store.compact({ retention: { maxEvents: 300 }, measure: false });
      // 1,000 confirmed events in pages of 50: 14 pages go, 300 events stay.
      expect(report).toMatchObject({ pagesDropped: 14, eventsDropped: 700, historyStartsAt: 701, blockedBy: [] });
      expect(report.basesWritten).toBeGreaterThanOrEqual(5);
      const info = await store.info();
      expect(info).toMatchObject({ historyStartsAt: 701, compactedEvents: 700, confirmedEvents: 300, pendingEvents: 2 });
      const log = await collect(store.readLog());
      expect(log[0]!.position).toBe(701);
      expect(log.filter((e) => e.position === undefined).map((e) => e.aggregateId)).toEqual(['p1', 'p2']);
      // Even a policy that wants everything gone keeps the pending events.
      await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(await store.info()).toMatchObject({ historyStartsAt: 1001, confirmedEvents: 0, pendingEvents: 2 });
      expect((await collect(store.readLog())).map((e) => e.aggregateId)).toEqual(['p1', 'p2']);
    } finally {
      await store.dispose();
    }
  });

  it('loads every aggregate exactly as an uncompacted store does (base + tail), and appends continue its stream', async () => {
    const pages = history({ pages: 12, perPage: 40, orders: 7 });
    const store = await openOrderStore(worker);
    const reference = await openOrderStore(worker);
    try {
      await importAll(store, pages);
      await importAll(reference, pages);
      // Some snapshots exist before compaction (o0, o1), others not.
      await store.snapshot(Order, 'o0');
      await store.snapshot(Order, 'o1');
      const report = await store.compact({ retention: { maxEvents: 100 }, measure: false });
      expect(report.eventsDropped).toBe(400);
      for (let i = 0; i < 7; i++) {
        const [got, want] = await Promise.all([store.load(Order, `o${i}`), reference.load(Order, `o${i}`)]);
        expect(got.state).toEqual(want.state);
        expect(got.version).toBe(want.version);
      }
      // The head survives the dropped pages: no-stream is refused, the next seq follows.
      const head = (await reference.load(Order, 'o3')).version;
      await expect(
        store.append('o3', [{ type: 'ItemAdded', data: { sku: 'n', qty: 1, price: 1 } }], { expectedVersion: 'no-stream' }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      const next = await store.append('o3', [{ type: 'ItemAdded', data: { sku: 'n', qty: 1, price: 1 } }], { expectedVersion: head });
      expect(next.events[0]!.seq).toBe(head + 1);
    } finally {
      await store.dispose();
      await reference.dispose();
    }
  });

  it('loads from the base when the snapshot at the head was written by other reducers, also when the engine knows the head', async () => {
    const pages = history({ pages: 12, perPage: 40, orders: 7 });
    const store = await openOrderStore(worker);
    const reference = await openOrderStore(worker);
    // The same aggregate with another reducer version: its snapshots do not fit Order's.
    const OtherReducers = defineAggregate({ ...Order, version: Order.version + 1 });
    try {
      await importAll(store, pages);
      await importAll(reference, pages);
      await store.snapshot(OtherReducers, 'o2');
      await store.compact({ retention: { maxEvents: 100 }, measure: false });
      const want = await reference.load(Order, 'o2');
      // The first load reads the head; the second finds it known and the snapshot at it, which does not fit: the base must come too.
      for (let round = 0; round < 2; round++) {
        const got = await store.load(Order, 'o2');
        expect(got.state).toEqual(want.state);
        expect(got.version).toBe(want.version);
      }
    } finally {
      await store.dispose();
      await reference.dispose();
    }
  });

  it('keeps heads of streams compacted away entirely: no-stream refused, seqs continue, no false rebase', async () => {
    const store = await openOrderStore(worker);
    try {
      await importAll(store, history({ pages: 4, perPage: 10, orders: 2 }));
      await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(await store.info()).toMatchObject({ confirmedEvents: 0, pendingEvents: 0, historyStartsAt: 41 });
      expect(await collect(store.readStream('o1'))).toEqual([]);
      const fresh = { type: 'ItemAdded' as const, data: { sku: 'n', qty: 1, price: 1 } };
      // The log holds no event now, but it is not empty: a head the engine never read is not 0.
      expect((await store.append('x1', [fresh])).events[0]!.seq).toBe(1);
      expect((await store.append('o0', [fresh])).events[0]!.seq).toBe(21);
      await expect(store.append('o1', [fresh], { expectedVersion: 'no-stream' })).rejects.toBeInstanceOf(ConcurrencyError);
      const next = await store.append('o1', [fresh], { expectedVersion: 20 });
      expect(next.events[0]!.seq).toBe(21);
      expect((await store.load(Order, 'o1')).version).toBe(21);
      // The pending event follows the dropped confirmed head: nothing for a rebase to do.
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        expect((await planRebase(db)).conflicts).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      await store.dispose();
    }
  });

  it('throws HistoryCompactedError for reads that need dropped events, and starts reads of everything at the start', async () => {
    const store = await openOrderStore(worker);
    try {
      await importAll(store, history({ pages: 10, perPage: 30, orders: 3 }));
      await store.compact({ retention: { maxEvents: 90 }, measure: false });
      const { historyStartsAt } = await store.info();
      expect(historyStartsAt).toBe(211);
      await expect(collect(store.readLog({ fromPosition: 1 }))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { requestedFrom: 1, historyStartsAt },
      });
      await expect(collect(store.readLog({ fromPosition: 1 }))).rejects.toBeInstanceOf(HistoryCompactedError);
      expect((await collect(store.readLog({ fromPosition: historyStartsAt }))).length).toBe(90);
      // A time range reaching into the dropped events' times would miss some: typed; one after them is fine.
      await expect(collect(store.readLog({ fromTime: 1100 }))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { droppedUntilTime: 1210 },
      });
      expect((await collect(store.readLog({ fromTime: 1211 }))).length).toBe(90);
      await expect(collect(store.readStream('o1', { fromSeq: 1 }))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'stream', aggregateId: 'o1', firstKeptSeq: 71 },
      });
      const kept = await collect(store.readStream('o1'));
      expect(kept[0]!.seq).toBe(71);
      expect(kept.at(-1)!.seq).toBe(100);
      // A range given by its end only, all of it dropped: typed, not an empty answer; one reaching into what is kept is fine.
      await expect(collect(store.readLog({ toPosition: 50 }))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'log', requestedTo: 50 },
      });
      expect((await collect(store.readLog({ toPosition: historyStartsAt }))).map((e) => e.position)).toEqual([historyStartsAt]);
      for (const backwards of [false, true]) {
        await expect(collect(store.readStream('o1', { toSeq: 5, backwards }))).rejects.toMatchObject({
          code: 'HISTORY_COMPACTED',
          details: { what: 'stream', toSeq: 5, firstKeptSeq: 71 },
        });
        expect((await collect(store.readStream('o1', { toSeq: 72, backwards }))).map((e) => e.seq).sort()).toEqual([71, 72]);
      }
      // Time travel before the start: typed; at or after it: exact.
      await expect(store.inspect(Order, 'o1', { until: { area: 0, page: 1, index: 10 } })).rejects.toBeInstanceOf(HistoryCompactedError);
      const now = await store.load(Order, 'o1');
      const atHead = await store.inspect(Order, 'o1', { until: { area: 0, page: 271, index: 29 } });
      expect(atHead.state).toEqual(now.state);
      // A projection folded from the first event would differ: rebuild and first catch-up refuse.
      await expect(store.projection(Revenue).rebuild()).rejects.toBeInstanceOf(HistoryCompactedError);
      await expect(store.inspectProjection(Revenue, {})).rejects.toBeInstanceOf(HistoryCompactedError);
      // A replay of the whole log starts at the start and says so.
      let seen = 0;
      const result = await store.replay({ handler: () => void seen++ });
      expect(result.historyStartsAt).toBe(historyStartsAt);
      expect(seen).toBe(90);
    } finally {
      await store.dispose();
    }
  });

  it('refuses an append repeating the id of a dropped event: exactly once survives compaction', async () => {
    const store = await openOrderStore(worker);
    try {
      const { clientId } = await store.info();
      await importAll(store, history({ pages: 6, perPage: 20, orders: 2, clientId }));
      await store.compact({ retention: { maxEvents: 20 }, measure: false });
      expect((await store.info()).historyStartsAt).toBe(101);
      const before = await store.load(Order, 'o1');
      // c-5 was this client's, stored, confirmed and dropped: a retry must not store it again.
      const retry = store.append('o1', [{ id: 'c-5', type: 'ItemAdded', data: { sku: 's5', qty: 3, price: 5 } }]);
      await expect(retry).rejects.toMatchObject({ code: 'HISTORY_COMPACTED', details: { what: 'event-id', eventIds: ['c-5'] } });
      // Still stored events are acknowledged as before.
      const kept = await store.append('o0', [{ id: 'c-110', type: 'ItemAdded', data: { sku: 's5', qty: 3, price: 0 } }]);
      expect(kept.duplicates).toEqual(['c-110']);
      expect(await store.load(Order, 'o1')).toMatchObject({ version: before.version, state: before.state });
      // New ids near the dropped ones are still accepted.
      const fresh = await store.append('o1', [{ id: 'c-5b', type: 'ItemAdded', data: { sku: 'z', qty: 1, price: 1 } }]);
      expect(fresh.duplicates).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('works in bounded steps and stops at checkpoints that are not past the horizon', async () => {
    const store = await openOrderStore(worker);
    try {
      await importAll(store, history({ pages: 10, perPage: 10, orders: 2 }));
      // Revenue's stored checkpoint is where its last catch-up stopped (it is not kept live here).
      const revenue = await store.projection(Revenue).get();
      const one = await store.compact({ retention: { maxEvents: 0 }, pagesPerStep: 2, maxSteps: 1, measure: false });
      expect(one).toMatchObject({ steps: 1, pagesDropped: 2, eventsDropped: 20, historyStartsAt: 21 });
      await importAll(store, history({ pages: 3, perPage: 10, orders: 2, start: 101 }));
      const held = await store.compact({ retention: { maxEvents: 0 }, pagesPerStep: 3, measure: false });
      expect(held).toMatchObject({ historyStartsAt: 101, pagesDropped: 8, steps: 3 });
      expect(held.blockedBy).toEqual([expect.objectContaining({ kind: 'projection', name: 'revenue', position: 100 })]);
      // Catching up moves the checkpoint; then the rest can go, and the state is unchanged by it.
      const after = await store.projection(Revenue).get();
      expect(after.applied).toBe(revenue.applied + 30);
      expect((await store.compact({ retention: { maxEvents: 0 }, measure: false })).historyStartsAt).toBe(131);
      expect((await store.projection(Revenue).get()).state).toEqual(after.state);
    } finally {
      await store.dispose();
    }
  });

  it('keeps events a reaction has not handled yet', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    const Charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      origin: 'any', // the history below is another client's
      handlers: {
        ItemAdded: async (e) => {
          await gate;
          seen.push(e.id);
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [Charge] });
    try {
      await importAll(store, history({ pages: 2, perPage: 10, orders: 2 }));
      const held = await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(held).toMatchObject({ eventsDropped: 0, historyStartsAt: 1 });
      expect(held.blockedBy).toEqual([expect.objectContaining({ kind: 'reaction', name: 'charge' })]);
      release();
      await eventually(async () => expect((await store.reactions.status())[0]!.confirmedThrough).toBe(20));
      expect((await store.compact({ retention: { maxEvents: 0 }, measure: false })).eventsDropped).toBe(20);
      expect(seen).toHaveLength(20);
    } finally {
      release();
      await store.dispose();
    }
  });

  it('maxBytes limits what is stored: large new events count as large, even after small old ones', async () => {
    const store = await openTestStore({ ...model, worker, name: `max-bytes-${Math.random()}` });
    try {
      const small = history({ pages: 10, perPage: 10, orders: 4 });
      const large = history({ pages: 10, perPage: 10, orders: 4, start: 101 }).map((page) =>
        page.map((e) => ({ ...e, data: { ...(e.data as object), sku: 'x'.repeat(2000) } })),
      );
      await importAll(store, [...small, ...large]);
      const report = await store.compact({ retention: { maxBytes: 100_000 }, measure: false });
      // Every small page goes, and as many large ones (~20 KB each) as it takes to get under the limit.
      expect(report.eventsDropped).toBeGreaterThanOrEqual(150);
      let kept = 0;
      for await (const e of store.readLog()) kept += JSON.stringify(e).length;
      expect(kept).toBeLessThanOrEqual(110_000);
      expect(kept).toBeGreaterThan(60_000); // and not more than it takes
    } finally {
      await store.dispose();
    }
  });

  it('counts the bytes of a store from before the count existed: at its first compaction, an estimate of what remains', async () => {
    const store = await openTestStore({ ...model, worker, name: `legacy-bytes-${Math.random()}` });
    try {
      await importAll(store, history({ pages: 4, perPage: 10, orders: 4 }));
      const meta = async (change?: (m: { confirmedBytes?: number }) => void) => {
        const db = await openChronicleDb(store.name, { onGone: () => undefined });
        try {
          const record = (await db.get('meta', 'client'))!;
          if (change) {
            change(record);
            await db.put('meta', record, 'client');
          }
          return record;
        } finally {
          db.close();
        }
      };
      const exact = (await meta()).confirmedBytes!;
      expect(exact).toBeGreaterThan(0);
      await meta((m) => delete m.confirmedBytes); // as an older version left it
      const report = await store.compact({ retention: { maxEvents: 30 }, measure: false });
      expect(report.eventsDropped).toBe(10);
      // Equal pages: the estimate of what remains is three quarters of the exact total, not that less what was dropped.
      const left = (await meta()).confirmedBytes!;
      expect(Math.abs(left - (exact - report.bytesDropped))).toBeLessThan(exact * 0.05);
    } finally {
      await store.dispose();
    }
  });

  it('leaves no processed record of a reaction for the events it drops', async () => {
    const seen: string[] = [];
    const Notify = defineReaction({
      name: 'notify',
      events: [ItemAdded],
      origin: 'any', // the history below is another client's
      handlers: { ItemAdded: (e) => void seen.push(e.id) },
    });
    const store = await openTestStore({ ...model, worker, reactions: [Notify], name: `processed-${Math.random()}` });
    try {
      await importAll(store, history({ pages: 3, perPage: 10, orders: 2 }));
      await eventually(async () => expect((await store.reactions.status())[0]!.confirmedThrough).toBe(30));
      expect(seen).toHaveLength(30);
      const records = async () => {
        const db = await openChronicleDb(store.name, { onGone: () => undefined });
        try {
          return await db.count('processed');
        } finally {
          db.close();
        }
      };
      expect(await records()).toBe(30);
      expect((await store.compact({ retention: { maxEvents: 0 }, measure: false })).eventsDropped).toBe(30);
      expect(await records()).toBe(0);
    } finally {
      await store.dispose();
    }
  });

  it('validates retention options with ConfigError', async () => {
    for (const retention of [{}, { maxEvents: -1 }, { maxAgeMs: 1.5 }, { maxBytes: 'a lot' }, { keep: 3 }, null]) {
      await expect(openTestStore({ ...model, worker, retention: retention as never })).rejects.toBeInstanceOf(ConfigError);
    }
    const store = await openOrderStore(worker);
    try {
      await expect(store.compact()).rejects.toBeInstanceOf(ConfigError);
      await expect(store.compact({ retention: { maxEvents: 1 }, pagesPerStep: 0 })).rejects.toBeInstanceOf(ConfigError);
      // A step is one readwrite transaction that appends wait for: bounded.
      await expect(store.compact({ retention: { maxEvents: 1 }, pagesPerStep: 33 })).rejects.toThrow(/from 1 to 32/);
    } finally {
      await store.dispose();
    }
  });

  it('keeps the retention policy as it was checked: changing the object afterwards changes nothing', async () => {
    const retention = { maxEvents: 1_000_000 };
    const store = await openTestStore({ ...model, worker, retention, name: `retention-copy-${Math.random()}` });
    try {
      await importAll(store, history({ pages: 3, perPage: 10, orders: 4 }));
      retention.maxEvents = -5; // would drop everything, and is no valid policy
      const report = await store.compact();
      expect(report.eventsDropped).toBe(0);
      expect((await store.info()).historyStartsAt).toBe(1);
      const given = { maxEvents: 1_000_000 };
      const running = store.compact({ retention: given });
      given.maxEvents = 0;
      expect((await running).eventsDropped).toBe(0);
    } finally {
      await store.dispose();
    }
  });

  it('drops by age in the background under openStore retention', async () => {
    const store = await openTestStore({ ...model, worker, retention: { maxAgeMs: DAY } });
    try {
      const now = Date.now();
      await importAll(store, history({ pages: 4, perPage: 10, orders: 2, oldAt: now - 3 * DAY }));
      await importAll(store, history({ pages: 2, perPage: 10, orders: 2, start: 41, oldAt: now - 40 }));
      const deadline = Date.now() + 15_000;
      while ((await store.info()).historyStartsAt === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await store.info()).toMatchObject({ historyStartsAt: 41, confirmedEvents: 20 });
    } finally {
      await store.dispose();
    }
  });

  it('loads an aggregate of 100k events from its base and tail', async () => {
    const store = await openOrderStore(worker);
    try {
      const total = 100_000;
      const chunk = 10_000;
      for (let start = 1; start <= total; start += chunk) {
        await store.importConfirmed(
          Array.from({ length: chunk }, (_, i): StoredEvent => ({
            id: `big-${start + i}`,
            aggregateId: 'big',
            aggregateType: 'Order',
            seq: start + i,
            type: 'ItemAdded',
            version: 2,
            data: { sku: `s${(start + i) % 5}`, qty: 1, price: 1 },
            meta: { occurredAt: start + i, clientId: 'till', clientSeq: start + i },
            position: start + i,
          })),
        );
      }
      const report = await store.compact({ retention: { maxEvents: 1000 }, pagesPerStep: 16, measure: false });
      expect(report.eventsDropped).toBeGreaterThan(98_000);
      const loaded = await store.load(Order, 'big');
      expect(loaded.version).toBe(total);
      expect(loaded.state.total).toBe(total);
      expect(loaded.snapshotVersion).toBe(report.historyStartsAt - 1);
      expect(loaded.eventsApplied).toBeLessThanOrEqual(2000);
    } finally {
      await store.dispose();
    }
  });
});
