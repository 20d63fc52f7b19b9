// Databases written by earlier schemas open at today's version with their log
// intact: version 3 (before reactions) and version 4 (pending pages indexed
// one record per page in pageIndex) both open at version 5, where pending
// pages carry their own index entries and pageIndex keeps confirmed pages'.
import { openDB, type IDBPDatabase } from 'idb';
import { describe, expect, it } from 'vitest';
import { EventIdConflictError } from '../../src/core/errors.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model, Order } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

const OWN = '0190a000-0000-7000-8000-000000000001';
const OTHER = '0190a000-0000-7000-8000-000000000002';
const row = (
  id: string,
  aggregateId: string,
  seq: number,
  type: string,
  version: number,
  data: unknown,
  clientId: string,
  clientSeq: number,
  position = 0,
) => [id, aggregateId, 'Order', seq, type, version, data, 1_700_000_000_000 + seq, clientId, clientSeq, position] as const;

/**
 * A log as an older engine stored it: one confirmed page (rows, another
 * client's events) and two pending pages, the first written as event objects
 * (the first page layout), each with its index record in pageIndex.
 */
async function writeOldDatabase(name: string, version: 3 | 4): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
  const db: IDBPDatabase = await openDB(name, version, {
    upgrade(database) {
      for (const store of ['pages', 'meta', 'snapshots', 'projections', 'jobs', 'rejected', 'sync']) database.createObjectStore(store);
      const pageIndex = database.createObjectStore('pageIndex');
      pageIndex.createIndex('stream', 'stream', { multiEntry: true });
      pageIndex.createIndex('id', 'id', { multiEntry: true });
      if (version >= 4) for (const store of ['reactions', 'processed', 'parked']) database.createObjectStore(store);
    },
  });
  const confirmed = [
    row('c-1', 'o1', 1, 'OrderPlaced', 1, { customerId: 'c-7' }, OTHER, 1, 1),
    row('c-2', 'o1', 2, 'ItemAdded', 1, { sku: 'old', quantity: 2, price: 3 }, OTHER, 2, 2),
  ];
  await db.put('pages', { json: JSON.stringify(confirmed), count: 2, t0: 0, t1: 0 }, [0, 1]);
  await db.put('pageIndex', { stream: [['o1', 2]], id: [] }, [0, 1]);
  const firstPending = {
    id: 'p-1',
    aggregateId: 'o1',
    aggregateType: 'Order',
    seq: 3,
    type: 'ItemAdded',
    version: 2,
    data: { sku: 'a', qty: 1, price: 1 },
    meta: { occurredAt: 1_700_000_000_003, clientId: OWN, clientSeq: 1 },
  };
  await db.put('pages', { json: JSON.stringify([firstPending]), count: 1, t0: 0, t1: 0 }, [1, 1]);
  await db.put('pageIndex', { stream: [['o1', 3]], id: ['p-1'] }, [1, 1]);
  const second = [
    row('p-2', 'o2', 1, 'OrderPlaced', 1, { customerId: 'c-8' }, OWN, 2),
    row('p-3', 'o1', 4, 'ItemAdded', 2, { sku: 'b', qty: 1, price: 1 }, OWN, 3),
  ];
  await db.put('pages', { json: JSON.stringify(second), count: 2, t0: 0, t1: 0 }, [1, 2]);
  await db.put(
    'pageIndex',
    {
      stream: [
        ['o2', 1],
        ['o1', 4],
      ],
      id: ['p-2', 'p-3'],
    },
    [1, 2],
  );
  await db.put(
    'meta',
    { clientId: OWN, nextClientSeq: 4, nextLsn: 3, pendingEvents: 3, confirmedEvents: 2, confirmedHead: 2, generation: 5 },
    'client',
  );
  db.close();
}

describe.each(modes)('schema upgrade to version 7 ($mode)', ({ worker }) => {
  it.each([3, 4] as const)('opens a version-%i database with its log, reads every page layout, and appends after it', async (version) => {
    const name = uniqueStoreName('upgrade');
    await writeOldDatabase(name, version);
    const seen: string[] = [];
    const Charge = defineReaction({ name: 'charge', events: [ItemAdded], handlers: { ItemAdded: (e) => void seen.push(e.data.sku) } });
    const store = await openTestStore({ ...model, worker, name, reactions: [Charge] });
    try {
      expect((await collect(store.readLog())).map((e) => e.id)).toEqual(['c-1', 'c-2', 'p-1', 'p-2', 'p-3']);
      expect((await collect(store.readStream('o1'))).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const loaded = await store.load(Order, 'o1');
      expect(loaded.version).toBe(4);
      expect(loaded.state.customerId).toBe('c-7');
      expect(loaded.state.lines).toMatchObject({ old: { qty: 2 }, a: { qty: 1 }, b: { qty: 1 } });

      // The old pages' ids are still found: a retry is acknowledged, a reuse refused.
      const retry = await store.append('o2', [{ id: 'p-2', type: 'OrderPlaced', data: { customerId: 'c-8' } }]);
      expect(retry.duplicates).toEqual(['p-2']);
      expect(retry.nextExpectedVersion).toBe(1);
      await expect(store.append('o1', [{ id: 'p-1', type: 'ItemAdded', data: { sku: 'z', qty: 9, price: 9 } }])).rejects.toBeInstanceOf(
        EventIdConflictError,
      );

      // Appends continue the old streams and counters.
      const next = await store.append('o1', [item('new')], { expectedVersion: 4 });
      expect(next.events[0]!.seq).toBe(5);
      expect(next.events[0]!.meta.clientSeq).toBe(4);
      expect((await collect(store.readStream('o1'))).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      await eventually(() => expect(seen).toEqual(['new']));
      expect((await store.info()).pendingEvents).toBe(4);

      const check = await openDB(name);
      expect(check.version).toBe(7);
      expect([...check.objectStoreNames]).toEqual(
        expect.arrayContaining(['reactions', 'processed', 'parked', 'pages', 'pageIndex', 'bases']),
      );
      // Pending pages now carry their own entries; pageIndex keeps the confirmed page's.
      expect(await check.getAllKeys('pageIndex')).toEqual([[0, 1]]);
      expect(await check.get('pages', [1, 2])).toMatchObject({
        stream: [
          ['o2', 1],
          ['o1', 4],
        ],
        id: ['p-2', 'p-3'],
      });
      expect(await check.getKeyFromIndex('pages', 'id', 'p-1')).toEqual([1, 1]);
      expect(await check.getAllKeysFromIndex('pages', 'stream', IDBKeyRange.bound(['o1'], ['o1', []]))).toEqual([
        [1, 1],
        [1, 2],
        [1, 3],
      ]);
      check.close();
    } finally {
      await store.dispose();
    }
  });
});
