import { ConfigError, StorageBlockedError, UnsyncedEventsError } from '../core/errors.ts';

export interface DeleteStoreOptions {
  /**
   * Delete it even when it holds events appended here that the sync server
   * has not confirmed: they are lost. Default false: refused with
   * UnsyncedEventsError, and nothing is deleted.
   */
  discardPending?: boolean;
  /** How long to wait for connections that do not close (not a store's: those close at once). Default 10,000 ms. */
  blockedTimeoutMs?: number;
}

export interface DeleteStoreResult {
  /** False when there was no store of that name (nothing to delete). */
  deleted: boolean;
  /** The unconfirmed events deleted with it (only with `discardPending`). */
  discardedPending: number;
}

/** What deleteStore reads of a store before deleting it: whether it exists, and its unconfirmed events. */
interface Found {
  exists: boolean;
  pendingEvents: number;
}

function platformIndexedDB(): IDBFactory {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw new ConfigError('deleteStore needs IndexedDB (in Node, fake-indexeddb)');
  return factory;
}

/**
 * Opens the database at whatever version it has, without making it: an open
 * that finds none is aborted in its upgrade, which leaves no database behind.
 */
function inspect(factory: IDBFactory, name: string): Promise<Found> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name);
    let missing = false;
    request.onupgradeneeded = () => {
      missing = true;
      request.transaction?.abort();
    };
    request.onerror = () => (missing ? resolve({ exists: false, pendingEvents: 0 }) : reject(request.error));
    request.onsuccess = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('meta')) {
        db.close();
        return resolve({ exists: true, pendingEvents: 0 });
      }
      const read = db.transaction('meta', 'readonly').objectStore('meta').get('client');
      read.onsuccess = () => {
        db.close();
        const meta = read.result as { pendingEvents?: unknown } | undefined;
        resolve({ exists: true, pendingEvents: typeof meta?.pendingEvents === 'number' ? meta.pendingEvents : 0 });
      };
      read.onerror = () => {
        db.close();
        reject(read.error);
      };
    };
  });
}

function remove(factory: IDBFactory, name: string, blockedTimeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    let timer: ReturnType<typeof setTimeout> | undefined;
    request.onsuccess = () => {
      clearTimeout(timer);
      resolve();
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(request.error);
    };
    // Every open store closes its connection when told of the delete; something else (a raw connection,
    // an older version of this library) may not. The delete still happens once it closes.
    request.onblocked = () => {
      timer ??= setTimeout(() => reject(new StorageBlockedError(name)), blockedTimeoutMs);
    };
  });
}

/**
 * Deletes a store's database (its log, snapshots, projections, reactions'
 * checkpoints, sync state): for signing out on a shared device, or resetting
 * one. Every store of that name open in any tab stops (`store.stopped`
 * settles, later calls reject with StoreClosedError `reason: 'deleted'`), and
 * never makes the database again: opening it afterwards starts an empty store
 * with a new client id. Events appended here and not yet confirmed by the sync
 * server make it refuse (UnsyncedEventsError) unless `discardPending`.
 */
export async function deleteStore(name: string, options: DeleteStoreOptions = {}): Promise<DeleteStoreResult> {
  if (typeof name !== 'string' || name === '') throw new ConfigError('deleteStore needs a store name');
  const blockedTimeoutMs = options.blockedTimeoutMs ?? 10_000;
  if (!(Number.isFinite(blockedTimeoutMs) && blockedTimeoutMs >= 0)) throw new ConfigError('blockedTimeoutMs must be a number >= 0');
  const factory = platformIndexedDB();
  const found = await inspect(factory, name);
  if (!found.exists) return { deleted: false, discardedPending: 0 };
  if (found.pendingEvents > 0 && !options.discardPending) throw new UnsyncedEventsError(name, found.pendingEvents);
  await remove(factory, name, blockedTimeoutMs);
  return { deleted: true, discardedPending: found.pendingEvents };
}
