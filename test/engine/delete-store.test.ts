// Deleting a store (sign-out on a shared device, a reset): nothing unconfirmed
// is lost by accident, and every store open on the database stops instead of
// silently starting afresh on an empty one.
import { describe, expect, it } from 'vitest';
import {
  defineReaction,
  deleteStore,
  openStore,
  StorageBlockedError,
  StoreClosedError,
  UnfinishedWorkError,
} from '../../src/client/index.ts';
import { deleteTestDatabase, openTestStore } from '../../src/testing/index.ts';
import { DB_VERSION } from '../../worker/db.ts';
import { ItemAdded, model } from '../fixtures/model.ts';
import type { WorkerOption } from '../../src/client/connection.ts';
import { collect, eventually, modes } from './modes.ts';

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

/**
 * Runs `deleting` with `inTheGap` run between deleteStore's check-and-mark and its delete: the delete
 * is asked for only once what `inTheGap` did has settled (a rejection included), so only the mark can
 * have refused it. Returns how that settled: 'stored', or the error.
 */
async function withWorkBeforeTheDelete<T>(
  inTheGap: () => Promise<unknown>,
  deleting: () => Promise<T>,
): Promise<{ result: T; gap: unknown }> {
  const factory = globalThis.indexedDB;
  const realDelete = factory.deleteDatabase.bind(factory);
  let gap: Promise<unknown> = Promise.resolve('not run');
  factory.deleteDatabase = (name: string) => {
    factory.deleteDatabase = realDelete;
    const request = {} as IDBOpenDBRequest;
    gap = inTheGap().then(
      () => 'stored',
      (error: unknown) => error,
    );
    void gap.then(() => {
      const real = realDelete(name);
      real.onsuccess = (event) => request.onsuccess?.call(real, event);
      real.onerror = (event) => request.onerror?.call(real, event);
    });
    return request;
  };
  try {
    const result = await deleting();
    return { result, gap: await gap };
  } finally {
    factory.deleteDatabase = realDelete;
  }
}

/** A store's database whose deletion its page began (marked) and did not finish: the page ended before the delete. */
async function markedDatabase(worker: WorkerOption): Promise<{ name: string; clientId: string }> {
  const store = await openTestStore({ ...model, worker });
  const { name } = store;
  await store.importConfirmed([confirmedOrder('o1', 1)]);
  const { clientId } = await store.info();
  await store.close();
  const factory = globalThis.indexedDB;
  const realDelete = factory.deleteDatabase.bind(factory);
  factory.deleteDatabase = () => {
    factory.deleteDatabase = realDelete;
    throw new Error('the page ended');
  };
  await expect(deleteStore(name)).rejects.toThrow('the page ended');
  factory.deleteDatabase = realDelete;
  return { name, clientId };
}

/** A connection that ignores versionchange (a library of the app's own, say): it holds deletes back. */
const rawConnection = (name: string) =>
  new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

describe.each(modes)('deleteStore ($mode)', ({ worker }) => {
  it('refuses while events appended here are unconfirmed, and deletes them only when told to', async () => {
    const store = await openTestStore({ ...model, worker });
    const { name } = store;
    try {
      await store.append('o1', [placed('c1')]);
      const refused = await deleteStore(name).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UnfinishedWorkError);
      expect(refused).toMatchObject({ code: 'UNFINISHED_WORK', pendingEvents: 1, reactions: [], rejectedEvents: 0 });
      // Refused: nothing changed, the store works on.
      expect((await store.info()).pendingEvents).toBe(1);
      await store.append('o1', [placed('c1')], { expectedVersion: 1 });
      expect(await deleteStore(name, { discardUnfinished: true })).toEqual({
        deleted: true,
        discarded: { pendingEvents: 2, reactions: [], rejectedEvents: 0 },
      });
      expect(await databaseExists(name)).toBe(false);
    } finally {
      await store.dispose();
    }
  });

  it('refuses while a reaction has events not handled yet (a charge failing), until it is done', async () => {
    let declining = true;
    const charged: string[] = [];
    const charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      on: 'confirmed',
      maxAttempts: 1000,
      backoff: { initialMs: 1, maxMs: 5 },
      handlers: {
        ItemAdded: (event) => {
          if (declining) throw new Error('payment provider down');
          charged.push(event.id);
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [charge] });
    const { name } = store;
    try {
      const { clientId } = await store.info();
      // A payment confirmed by the server (nothing pending), its charge not made yet.
      await store.importConfirmed([
        {
          ...confirmedOrder('o1', 1),
          type: 'ItemAdded',
          data: { sku: 'a', qty: 1, price: 5 },
          version: 2,
          meta: { occurredAt: 1, clientId, clientSeq: 1 },
        },
      ]);
      await eventually(async () => expect((await store.reactions.status())[0]?.inFlight?.attempts).toBeGreaterThan(0));
      // Before: deleted (nothing pending), and the charge never made on any device.
      await expect(deleteStore(name)).rejects.toMatchObject({ code: 'UNFINISHED_WORK', pendingEvents: 0, reactions: ['charge'] });
      declining = false;
      await eventually(() => expect(charged).toHaveLength(1));
      await eventually(async () => expect((await store.reactions.status())[0]?.caughtUp).toBe(true));
      expect(await deleteStore(name)).toMatchObject({ deleted: true });
      // The store stopped: its reaction calls no handler any more.
      expect((await store.stopped).reason).toBe('deleted');
    } finally {
      await store.dispose();
    }
  });

  it('deleted with its unfinished work discarded, a store calls no reaction handler any more', async () => {
    let calls = 0;
    const charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1000,
      backoff: { initialMs: 5, maxMs: 5 },
      handlers: {
        ItemAdded: () => {
          calls++;
          throw new Error('payment provider down');
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [charge] });
    try {
      await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1, price: 5 } }]);
      await eventually(() => expect(calls).toBeGreaterThan(1));
      expect(await deleteStore(store.name, { discardUnfinished: true })).toMatchObject({
        deleted: true,
        discarded: { pendingEvents: 1, reactions: ['charge'] },
      });
      await store.stopped;
      const after = calls;
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Before: the retries went on, each one a call to the payment provider from a store that had stopped.
      expect(calls).toBe(after);
    } finally {
      await store.dispose();
    }
  });

  it('an append another store commits while deleteStore runs is refused, never stored and then deleted unseen', async () => {
    const store = await openTestStore({ ...model, worker });
    const other = await openTestStore({ ...model, worker, name: store.name });
    try {
      const { result, gap } = await withWorkBeforeTheDelete(
        () => other.append('late', [placed('c9')]),
        () => deleteStore(store.name),
      );
      expect(result).toMatchObject({ deleted: true });
      expect(gap).toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
    } finally {
      await other.close();
      await store.dispose();
    }
  });

  it('a deletion its page did not finish (marked, not deleted) is finished by the stores that open the name next, two at once too', async () => {
    const { name, clientId } = await markedDatabase(worker);
    const opened = await Promise.allSettled([openStore({ ...model, worker, name }), openStore({ ...model, worker, name })]);
    try {
      for (const result of opened) {
        expect(result.status).toBe('fulfilled');
        if (result.status !== 'fulfilled') continue;
        expect(await result.value.info()).toMatchObject({ confirmedEvents: 0, pendingEvents: 0 });
        expect((await result.value.info()).clientId).not.toBe(clientId);
      }
    } finally {
      for (const result of opened) if (result.status === 'fulfilled') await result.value.close();
      await deleteTestDatabase(name);
    }
  });

  it('an open that cannot finish a deletion (a connection that does not close holds it) fails typed, not hangs', async () => {
    const { name } = await markedDatabase(worker);
    const raw = await rawConnection(name);
    try {
      const refused = await openStore({ ...model, worker, name }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(StorageBlockedError);
      expect(refused).toMatchObject({ code: 'STORAGE_BLOCKED', waiting: 'delete' });
    } finally {
      raw.close();
      await deleteTestDatabase(name);
    }
  });

  it('a pull stored after deleteStore counted the work is refused: nothing is written it did not count', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      // Between the mark and the delete, a sync round stores what it pulled.
      const { result, gap } = await withWorkBeforeTheDelete(
        () => store.importConfirmed([confirmedOrder('o2', 1)]),
        () => deleteStore(store.name),
      );
      expect(result).toMatchObject({ deleted: true });
      expect(gap).toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
    } finally {
      await store.dispose();
    }
  });

  it('stops every store open on it: stopped settles, calls reject as deleted, and no empty database is made again', async () => {
    const first = await openTestStore({ ...model, worker });
    const { name } = first;
    const second = await openTestStore({ ...model, worker, name });
    try {
      await first.importConfirmed([confirmedOrder('o1', 1)]);
      const { clientId } = await first.info();
      expect(await deleteStore(name)).toMatchObject({ deleted: true });
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
    expect(await deleteStore(name)).toMatchObject({ deleted: true });
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

  it('a connection that does not close when told holds the delete back: onBlocked says so, and it completes once that closes', async () => {
    const store = await openTestStore({ ...model, worker });
    const { name } = store;
    await store.importConfirmed([confirmedOrder('o1', 1)]);
    const raw = await rawConnection(name);
    let blocked = 0;
    const deleting = deleteStore(name, { onBlocked: () => blocked++ });
    try {
      await eventually(() => expect(blocked).toBe(1));
      // The store stopped already: nothing more is written while the delete waits.
      expect((await store.stopped).reason).toBe('deleted');
      raw.close();
      expect(await deleting).toMatchObject({ deleted: true });
      expect(await databaseExists(name)).toBe(false);
    } finally {
      raw.close();
      await store.dispose();
    }
  });
});

describe('deleteStore when IndexedDB itself fails', () => {
  it('rejects with a StorageError naming the step and the cause, not the DOMException', async () => {
    const factory = globalThis.indexedDB;
    const realOpen = factory.open.bind(factory);
    // IndexedDB refusing to open at all (Safari's "UnknownError" after a storage failure, a disk gone read-only).
    factory.open = () => {
      const request = { error: new DOMException('Internal error opening backing store', 'UnknownError') } as unknown as IDBOpenDBRequest;
      setTimeout(() => (request.onerror as (() => void) | null)?.(), 0);
      return request;
    };
    try {
      await expect(deleteStore('any-store')).rejects.toMatchObject({
        code: 'STORAGE',
        message: expect.stringContaining('UnknownError: Internal error opening backing store'),
        details: expect.objectContaining({ operation: 'deleteStore: open' }),
      });
    } finally {
      factory.open = realOpen;
    }
  });
});
