import { afterEach, describe, expect, it } from 'vitest';
import { StorageClosedError, StorageQuotaError, StoreClosedError } from '../../src/core/errors.ts';
import { Order } from '../fixtures/model.ts';
import { collect, openOrderStore } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

// These need to reach into IndexedDB itself, so they run with the engine in-process.
describe('storage trouble (in-process)', () => {
  const originalPut = IDBObjectStore.prototype.put;
  afterEach(() => {
    IDBObjectStore.prototype.put = originalPut;
  });

  it('a full disk surfaces as StorageQuotaError, stores nothing of the append, and the store stays usable', async () => {
    const store = await openOrderStore(false);
    try {
      await store.append('o1', [item('a')]);
      IDBObjectStore.prototype.put = function (...args: Parameters<IDBObjectStore['put']>) {
        if (this.name === 'pages') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return originalPut.apply(this, args);
      };
      const error = await store.append('o1', [item('b'), item('c')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageQuotaError);
      expect((error as StorageQuotaError).code).toBe('STORAGE_QUOTA');
      IDBObjectStore.prototype.put = originalPut;
      expect((await collect(store.readStream('o1'))).map((e) => e.seq)).toEqual([1]);
      const next = await store.append('o1', [item('d')], { expectedVersion: 1 });
      expect(next.events[0]!.seq).toBe(2);
      expect(next.events[0]!.meta.clientSeq).toBe(2);
    } finally {
      await store.dispose();
    }
  });

  it('steps aside when another tab upgrades the database, and reports a typed error afterwards', async () => {
    const store = await openOrderStore(false);
    try {
      await store.append('o1', [item('a')]);
      // Another tab (a newer app version) opens the database at a higher version.
      const newer = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(store.name, 99);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      newer.close();
      const error = await store.append('o1', [item('b')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageClosedError);
      expect(String((error as Error).message)).toMatch(/VersionError|version/i);
    } finally {
      await store.dispose();
    }
  });

  it('stops, rather than reopen an empty database, when its database is deleted under it', async () => {
    const store = await openOrderStore(false);
    try {
      await store.append('o1', [item('a')]);
      // deleteDatabase closes our connection (versionchange). Until 2026-12-06 the next call reopened the
      // database empty, under a new client id, and appended o1's seq 1 again (test/engine/delete-store.test.ts).
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase(store.name);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      });
      await expect(store.append('o1', [item('b')])).rejects.toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
      await expect(store.load(Order, 'o1')).rejects.toBeInstanceOf(StoreClosedError);
    } finally {
      await store.dispose();
    }
  });

  it('a closed store refuses calls with StoreClosedError', async () => {
    const store = await openOrderStore(false);
    await store.dispose();
    await expect(store.append('o1', [item('a')])).rejects.toBeInstanceOf(StoreClosedError);
  });
});
