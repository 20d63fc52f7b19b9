// A database written by the previous schema (version 3, before reactions)
// opens at version 4 with its log intact and the reaction stores added.
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe.each(modes)('schema upgrade 3 → 4 ($mode)', ({ worker }) => {
  it('keeps the log and adds the reaction stores', async () => {
    const name = uniqueStoreName('upgrade');
    // Write a log with today's engine, then take the database back to what version 3 had.
    const first = await openTestStore({ ...model, worker, name });
    await first.append('o1', [item('old')]);
    await first.close();
    const raw = await openDB(name);
    const pages = await raw.getAll('pages');
    const pageKeys = await raw.getAllKeys('pages');
    const index = await raw.getAll('pageIndex');
    const meta = await raw.get('meta', 'client');
    raw.close();
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    const v3 = await openDB(name, 3, {
      upgrade(db) {
        for (const store of ['pages', 'meta', 'snapshots', 'projections', 'jobs', 'rejected', 'sync']) db.createObjectStore(store);
        const pageIndex = db.createObjectStore('pageIndex');
        pageIndex.createIndex('stream', 'stream', { multiEntry: true });
        pageIndex.createIndex('id', 'id', { multiEntry: true });
      },
    });
    for (let i = 0; i < pages.length; i++) {
      await v3.put('pages', pages[i], pageKeys[i]);
      await v3.put('pageIndex', index[i], pageKeys[i]);
    }
    await v3.put('meta', meta, 'client');
    expect([...v3.objectStoreNames]).not.toContain('reactions');
    v3.close();

    const seen: string[] = [];
    const Charge = defineReaction({ name: 'charge', events: [ItemAdded], handlers: { ItemAdded: (e) => void seen.push(e.data.sku) } });
    const store = await openTestStore({ ...model, worker, name, reactions: [Charge] });
    try {
      expect((await collect(store.readLog())).map((e) => (e.known && e.type === 'ItemAdded' ? e.data.sku : '?'))).toEqual(['old']);
      await store.append('o1', [item('new')]);
      await eventually(() => expect(seen).toEqual(['new']));
      const check = await openDB(name);
      expect([...check.objectStoreNames]).toEqual(expect.arrayContaining(['reactions', 'processed', 'parked', 'pages', 'pageIndex']));
      expect(check.version).toBe(4);
      check.close();
    } finally {
      await store.dispose();
    }
  });
});
