// Deleting a store (sign-out on a shared device, a reset): nothing unconfirmed
// is lost by accident, and every store open on the database stops instead of
// silently starting afresh on an empty one.
import { describe, expect, it } from 'vitest';
import { deleteStore, StoreClosedError, UnsyncedEventsError } from '../../src/client/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { DB_VERSION } from '../../worker/db.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });

/** The event stored on another device, as a pull brings it: confirmed. */
const confirmedOrder = (id: string, position: number) => ({
  id,
  aggregateId: id,
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: 'c' },
  meta: { occurredAt: 1, clientId: 'server-side', clientSeq: position },
  position,
});

const databaseExists = (name: string) =>
  new Promise<boolean>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onerror = () => resolve(false);
    request.onsuccess = () => {
      request.result.close();
      resolve(true);
    };
    setTimeout(() => reject(new Error('open did not settle')), 5000);
  });

/** Another tab upgrades the database: a store open on it lets its connection go, to reopen it when next used. */
const dropConnectionOf = (name: string) =>
  new Promise<void>((resolve, reject) => {
    const request = indexedDB.open(name, DB_VERSION + 1);
    request.onsuccess = () => {
      request.result.close();
      resolve();
    };
    request.onerror = () => reject(request.error);
  });

describe.each(modes)('deleteStore ($mode)', ({ worker }) => {
  it('refuses while events appended here are unconfirmed, and deletes them only when told to', async () => {
    const store = await openTestStore({ ...model, worker });
    const { name } = store;
    try {
      await store.append('o1', [placed('c1')]);
      const refused = await deleteStore(name).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UnsyncedEventsError);
      expect(refused).toMatchObject({ code: 'UNSYNCED_EVENTS', pendingEvents: 1 });
      // Refused: nothing changed, the store works on.
      expect((await store.info()).pendingEvents).toBe(1);
      await store.append('o1', [placed('c1')], { expectedVersion: 1 });
      expect(await deleteStore(name, { discardPending: true })).toEqual({ deleted: true, discardedPending: 2 });
      expect(await databaseExists(name)).toBe(false);
    } finally {
      await store.dispose();
    }
  });

  it('deletes a store whose events are all confirmed, and says when there was none', async () => {
    const store = await openTestStore({ ...model, worker });
    const { name } = store;
    await store.importConfirmed([confirmedOrder('o1', 1)]);
    await store.close();
    expect(await deleteStore(name)).toEqual({ deleted: true, discardedPending: 0 });
    expect(await databaseExists(name)).toBe(false);
    // Nothing there: nothing made either.
    expect(await deleteStore(name)).toEqual({ deleted: false, discardedPending: 0 });
    expect(await databaseExists(name)).toBe(false);
    await expect(deleteStore('')).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('stops every store open on it: stopped settles, calls reject as deleted, and no empty database is made again', async () => {
    const first = await openTestStore({ ...model, worker });
    const { name } = first;
    const second = await openTestStore({ ...model, worker, name });
    try {
      await first.importConfirmed([confirmedOrder('o1', 1)]);
      const { clientId } = await first.info();
      expect(await deleteStore(name)).toEqual({ deleted: true, discardedPending: 0 });
      for (const store of [first, second]) {
        const stopped = await store.stopped;
        expect(stopped).toBeInstanceOf(StoreClosedError);
        expect(stopped.reason).toBe('deleted');
        // Before: the engine reopened an empty database under a new client id and went on appending into it.
        await expect(store.append('o2', [placed('c2')])).rejects.toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
        await expect(store.info()).rejects.toMatchObject({ reason: 'deleted' });
        await expect(collect(store.readLog())).rejects.toMatchObject({ reason: 'deleted' });
      }
      expect(await databaseExists(name)).toBe(false);
      await first.close();
      await second.close();
      // Opening it again starts an empty store, with a new client id.
      const fresh = await openTestStore({ ...model, worker, name });
      try {
        expect(await fresh.info()).toMatchObject({ pendingEvents: 0, confirmedEvents: 0 });
        expect((await fresh.info()).clientId).not.toBe(clientId);
      } finally {
        await fresh.dispose();
      }
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('a store whose connection was dropped does not make its database again when it was deleted meanwhile', async () => {
    const store = await openTestStore({ ...model, worker });
    const { name } = store;
    try {
      await store.importConfirmed([confirmedOrder('o1', 1)]);
      // Another tab upgrades the database (the store lets its connection go, to reopen it when next used)...
      await dropConnectionOf(name);
      // ...and the site's data is cleared while the store holds no connection, so it hears of no delete.
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      });
      await expect(store.append('o2', [placed('c2')])).rejects.toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
      expect((await store.stopped).reason).toBe('deleted');
      expect(await databaseExists(name)).toBe(false);
    } finally {
      await store.dispose();
    }
  });

  it('a store that held no connection when its database was deleted stops, and writes nothing into the next user’s store of that name', async () => {
    const old = await openTestStore({ ...model, worker });
    const { name } = old;
    await dropConnectionOf(name);
    // Sign-out in another tab, then the next user's store opens under the same name: a database exists again.
    expect(await deleteStore(name)).toEqual({ deleted: true, discardedPending: 0 });
    const next = await openTestStore({ ...model, worker, name });
    try {
      // Before: the old store reopened the next user's database and appended into it under their client id.
      await expect(old.append('o9', [placed('old-user')])).rejects.toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
      expect((await old.stopped).reason).toBe('deleted');
      expect(await collect(next.readLog())).toEqual([]);
      await next.append('o1', [placed('new-user')]);
      expect((await next.info()).pendingEvents).toBe(1);
    } finally {
      await old.close();
      await next.dispose();
    }
  });
});
