// Pending events are indexed once per commit (worker/db.ts): a commit of one
// page carries its entries itself, a commit of several pages has one record in
// pageIndex for all of them. Given a commit of many pages and aggregates, when
// it is read, appended after, repeated, partly confirmed and then fully
// confirmed, then every stream reads back whole and in order. A commit over
// many aggregates leaves its stream entries for later (worker/later-index.ts):
// the same holds before the engine indexes them, and after.
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { EventIdConflictError } from '../../src/core/errors.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { model, Order } from '../fixtures/model.ts';
import { LATER_MIN_ENTRIES } from '../../worker/page-builder.ts';
import type { PageIndexRecord } from '../../worker/db.ts';
import { collect, eventually, modes } from './modes.ts';

const PER_AGGREGATE = 25;
/** Below LATER_MIN_ENTRIES aggregates a commit is indexed at once; from it on, its stream entries wait. */
const shapes = [
  { shape: 'indexed at once', aggregates: LATER_MIN_ENTRIES - 4, waits: false },
  { shape: 'stream entries waiting', aggregates: LATER_MIN_ENTRIES + 36, waits: true },
];
type Store = Awaited<ReturnType<typeof openTestStore<typeof model.events, typeof model.aggregates>>>;
const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku: `${sku}-${'x'.repeat(120)}`, qty: 1, price: 2 } });

/** One appendBatch: events of many aggregates, interleaved over several pages (one commit). */
async function appendCommit(store: Store, aggregates: number) {
  const entries = [];
  for (let round = 0; round < PER_AGGREGATE; round++) {
    for (let a = 0; a < aggregates; a++) entries.push({ aggregateId: `agg-${a}`, events: [item(`r${round}`)] });
  }
  return store.appendBatch(entries);
}

/** The pending commit records, as stored. */
async function commitRecords(name: string): Promise<PageIndexRecord[]> {
  const db = await openDB(name);
  try {
    return (await db.getAll('pageIndex', IDBKeyRange.bound([1, -Infinity], [1, Infinity]))) as PageIndexRecord[];
  } finally {
    db.close();
  }
}

async function rawKeys(name: string, store: 'pages' | 'pageIndex'): Promise<[number, number][]> {
  const db = await openDB(name);
  try {
    return (await db.getAllKeys(store)) as [number, number][];
  } finally {
    db.close();
  }
}

async function expectStreamsWhole(store: Store, aggregates: number, extra = 0) {
  for (const a of [0, 1, aggregates / 2, aggregates - 1]) {
    const seqs = (await collect(store.readStream(`agg-${a}`))).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: PER_AGGREGATE + (a === 0 ? extra : 0) }, (_, i) => i + 1));
    const backwards = (await collect(store.readStream(`agg-${a}`, { backwards: true, fromSeq: 5, toSeq: 9 }))).map((e) => e.seq);
    expect(backwards).toEqual([9, 8, 7, 6, 5]);
    expect((await store.load(Order, `agg-${a}`)).version).toBe(PER_AGGREGATE + (a === 0 ? extra : 0));
  }
}

describe.each(modes.flatMap((mode) => shapes.map((shape) => ({ ...mode, ...shape }))))(
  'commits of many pages ($mode, $shape)',
  ({ worker, aggregates, waits }) => {
    const AGGREGATES = aggregates;
    it('reads every stream of the commit whole, appends after it and finds its ids, also from a fresh engine', async () => {
      const name = uniqueStoreName('commit');
      const store = await openTestStore({ ...model, worker, name });
      let ids: string[] = [];
      try {
        const results = await appendCommit(store, AGGREGATES);
        ids = results.map((r) => r.events[0]!.id);
        const pages = await rawKeys(name, 'pages');
        expect(pages.length).toBeGreaterThan(4);
        // One record for the whole commit, under its first page's key.
        expect(await rawKeys(name, 'pageIndex')).toEqual([pages[0]]);
        const [record] = await commitRecords(name);
        expect(record!.later !== undefined).toBe(waits);
        expect((await store.info()).deferredIndexEntries).toBe(waits ? AGGREGATES : 0);
        await expectStreamsWhole(store, AGGREGATES);
      } finally {
        await store.close();
      }

      // A fresh engine knows no heads: it finds them through the commit's record (its waiting entries too).
      const reopened = await openTestStore({ ...model, worker, name });
      try {
        await expectStreamsWhole(reopened, AGGREGATES);
        await expect(reopened.append('agg-2', [item('stale')], { expectedVersion: PER_AGGREGATE - 1 })).rejects.toMatchObject({
          code: 'CONCURRENCY',
        });
        const next = await reopened.append('agg-0', [item('after')], { expectedVersion: PER_AGGREGATE });
        expect(next.events[0]!.seq).toBe(PER_AGGREGATE + 1);
        await expectStreamsWhole(reopened, AGGREGATES, 1);
        // Ids made for the commit (indexed as runs of time-ordered ids) are found: a retry is acknowledged...
        const repeated = await reopened.append('agg-1', [{ id: ids[1]!, ...item('r0') }]);
        expect(repeated.duplicates).toEqual([ids[1]]);
        expect(repeated.events[0]!.seq).toBe(1);
        const late = ids[ids.length - 1]!;
        const lastRepeat = await reopened.append(`agg-${AGGREGATES - 1}`, [{ id: late, ...item(`r${PER_AGGREGATE - 1}`) }]);
        expect(lastRepeat.duplicates).toEqual([late]);
        // ...and a reuse in another stream is refused, with nothing stored.
        await expect(reopened.append('agg-2', [{ id: ids[3]!, ...item('other') }])).rejects.toBeInstanceOf(EventIdConflictError);
        expect((await reopened.info()).pendingEvents).toBe(AGGREGATES * PER_AGGREGATE + 1);
        // Once the engine is idle it indexes what waited (it resumed that on opening); reads answer the same.
        await eventually(async () => expect((await reopened.info()).deferredIndexEntries).toBe(0), 10_000);
        const [indexed] = await commitRecords(name);
        expect(indexed!.later).toBeUndefined();
        expect(indexed!.stream).toHaveLength(AGGREGATES);
        await expectStreamsWhole(reopened, AGGREGATES, 1);
        expect((await reopened.append(`agg-${AGGREGATES - 1}`, [item('last')], { expectedVersion: PER_AGGREGATE })).events[0]!.seq).toBe(
          PER_AGGREGATE + 1,
        );
      } finally {
        await reopened.dispose();
      }
    });

    it.skipIf(!waits)(
      'when the store that wrote the commit closes before indexing it, another store on the database indexes it',
      async () => {
        const name = uniqueStoreName('commit-closing');
        const writer = await openTestStore({ ...model, worker, name });
        const other = await openTestStore({ ...model, worker: false, name });
        try {
          await appendCommit(writer, AGGREGATES);
          // Closed at once: its own indexer (after 0.3 s of quiet) never runs. The other store heard of the commit.
          await writer.close();
          await eventually(async () => expect((await other.info()).deferredIndexEntries).toBe(0));
          const [indexed] = await commitRecords(name);
          expect(indexed!.later).toBeUndefined();
          expect(indexed!.stream).toHaveLength(AGGREGATES);
          await expectStreamsWhole(other, AGGREGATES);
        } finally {
          await writer.dispose();
          await other.dispose();
        }
      },
    );

    it('another store on the database appends to every stream of the commit while the first indexes what waited: seqs stay gapless', async () => {
      const name = uniqueStoreName('commit-tabs');
      const store = await openTestStore({ ...model, worker, name });
      const other = await openTestStore({ ...model, worker: false, name });
      try {
        await appendCommit(store, AGGREGATES);
        // The first store goes quiet (its indexer runs after 0.3 s) while the other appends for ~1 s.
        for (let a = 0; a < AGGREGATES; a++) {
          const next = await other.append(`agg-${a}`, [item('other')], { expectedVersion: PER_AGGREGATE });
          expect(next.events[0]!.seq).toBe(PER_AGGREGATE + 1);
          if (a % 10 === 9) await new Promise((r) => setTimeout(r, 100));
        }
        await eventually(async () => expect((await store.info()).deferredIndexEntries).toBe(0), 10_000);
        for (const reader of [store, other]) {
          for (const a of [0, AGGREGATES - 1]) {
            const seqs = (await collect(reader.readStream(`agg-${a}`))).map((e) => e.seq);
            expect(seqs).toEqual(Array.from({ length: PER_AGGREGATE + 1 }, (_, i) => i + 1));
          }
        }
        const last = await store.append('agg-0', [item('mine')], { expectedVersion: PER_AGGREGATE + 1 });
        expect(last.events[0]!.seq).toBe(PER_AGGREGATE + 2);
      } finally {
        await other.close();
        await store.dispose();
      }
    });

    it('keeps streams whole while the server confirms the commit bit by bit, and drops its record once all of it is confirmed', async () => {
      const name = uniqueStoreName('commit-confirm');
      const store = await openTestStore({ ...model, worker, name });
      try {
        await appendCommit(store, AGGREGATES);
        const pending = (await collect(store.scan({}, { batchEvents: 100_000 })))
          .flat()
          .map((entry) => entry.event as unknown as StoredEvent);
        expect(pending).toHaveLength(AGGREGATES * PER_AGGREGATE);
        const confirm = async (from: number, to: number) => {
          const events = pending.slice(from, to).map((e, i) => {
            const {
              known: _known,
              storedVersion: _storedVersion,
              ...stored
            } = e as StoredEvent & { known?: boolean; storedVersion?: number };
            return { ...stored, position: from + i + 1 };
          });
          await store.importConfirmed(events);
        };
        // The first pages go, a page is cut in two, then more.
        for (const [from, to] of [
          [0, 137],
          [137, 700],
          [700, 701],
        ] as const) {
          await confirm(from, to);
          await expectStreamsWhole(store, AGGREGATES);
          const info = await store.info();
          expect(info.confirmedEvents).toBe(to);
          expect(info.pendingEvents).toBe(AGGREGATES * PER_AGGREGATE - to);
          expect((await collect(store.readLog())).map((e) => e.id)).toEqual(pending.map((e) => e.id));
          // A given id on a page the commit's record still covers is found there.
          const stillPending = pending[to + 3]!;
          const repeat = await store.append(stillPending.aggregateId, [
            { id: stillPending.id, type: 'ItemAdded', data: stillPending.data as never },
          ]);
          expect(repeat.duplicates).toEqual([stillPending.id]);
          expect((await rawKeys(name, 'pageIndex')).filter((k) => k[0] === 1)).toHaveLength(1);
        }
        const next = await store.append('agg-0', [item('tail')], { expectedVersion: PER_AGGREGATE });
        expect(next.events[0]!.seq).toBe(PER_AGGREGATE + 1);
        await confirm(701, pending.length);
        await expectStreamsWhole(store, AGGREGATES, 1);
        // Nothing of the commit is pending any more: its record is gone.
        expect((await rawKeys(name, 'pageIndex')).filter((k) => k[0] === 1)).toEqual([]);
      } finally {
        await store.dispose();
      }
    });
  },
);
