import { ConfigError, UnfinishedWorkError, type UnfinishedWork } from '../core/errors.ts';
import { hasWork, unfinishedWork, type StoredMeta, type StoredReaction } from '../core/unfinished-work.ts';
import { deleteDatabase, toStorageError } from '../../worker/contract.ts';

export interface DeleteStoreOptions {
  /**
   * Delete it even when it holds unfinished work (see UnfinishedWork): events
   * the sync server has not confirmed, reactions' events not handled yet,
   * rejected events not dismissed. They are lost. Default false: refused
   * with UnfinishedWorkError, and nothing is deleted.
   */
  discardUnfinished?: boolean;
  /**
   * Called (once) when the delete waits for a connection that does not close
   * when told (not a store's: those close at once; a raw IndexedDB connection,
   * or a tab of a version of this library from before deleteStore). The delete
   * happens once it closes; meanwhile nothing is written there.
   */
  onBlocked?: () => void;
}

export interface DeleteStoreResult {
  /** False when there was no store of that name (nothing to delete). */
  deleted: boolean;
  /** The unfinished work deleted with it (only with `discardUnfinished`). */
  discarded: UnfinishedWork;
}

const NOTHING: UnfinishedWork = { pendingEvents: 0, reactions: [], rejectedEvents: 0 };

function platformIndexedDB(): IDBFactory {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw new ConfigError('deleteStore needs IndexedDB (in Node, fake-indexeddb)');
  return factory;
}

const requestResult = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/** Opens the database at whatever version it has, without making it: an open that finds none is aborted. */
function openExisting(factory: IDBFactory, name: string): Promise<IDBDatabase | undefined> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name);
    let missing = false;
    request.onupgradeneeded = () => {
      missing = true;
      request.transaction?.abort();
    };
    request.onerror = () => (missing ? resolve(undefined) : reject(request.error));
    request.onsuccess = () => resolve(request.result);
  });
}

/**
 * In one transaction: reads what is unfinished and, unless that refuses the
 * delete, marks the database as being deleted (MetaRecord.deleting). Appends
 * check the mark in their own transactions, so none commits after the check
 * and is then deleted unseen; a store opened on a marked database finishes
 * the deletion (the page may end before it does).
 */
async function checkAndMark(db: IDBDatabase, name: string, discard: boolean): Promise<UnfinishedWork> {
  const wanted = ['meta', 'reactions', 'parked', 'rejected'].filter((store) => db.objectStoreNames.contains(store));
  if (!wanted.includes('meta')) return NOTHING;
  const tx = db.transaction(wanted, 'readwrite');
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('aborted', 'AbortError'));
  });
  done.catch(() => undefined);
  const read = <T>(store: string, request: (s: IDBObjectStore) => IDBRequest<T>, none: T): Promise<T> =>
    wanted.includes(store) ? requestResult(request(tx.objectStore(store))) : Promise.resolve(none);
  const [meta, reactions, parked, rejected] = await Promise.all([
    read('meta', (s) => s.get('client') as IDBRequest<StoredMeta | undefined>, undefined),
    read('reactions', (s) => s.getAll() as IDBRequest<StoredReaction[]>, []),
    read('parked', (s) => s.getAllKeys() as unknown as IDBRequest<[string, string][]>, []),
    read('rejected', (s) => s.count(), 0),
  ]);
  const work = unfinishedWork(meta, reactions, parked, rejected);
  if (hasWork(work) && !discard) {
    tx.abort();
    throw new UnfinishedWorkError(name, work);
  }
  if (meta) tx.objectStore('meta').put({ ...meta, deleting: Date.now() }, 'client');
  await done;
  return work;
}

/**
 * Deletes a store's database (its log, snapshots, projections, reactions'
 * checkpoints, sync state): for signing out on a shared device, or resetting
 * one. Refused with UnfinishedWorkError, nothing deleted, while it holds
 * work that would be lost, unless `discardUnfinished`. Every store of that
 * name open in any tab stops (`store.stopped` settles, later calls reject
 * with StoreClosedError `reason: 'deleted'`), and none makes the database
 * again: opening the name afterwards starts an empty store with a new client id.
 */
export async function deleteStore(name: string, options?: DeleteStoreOptions): Promise<DeleteStoreResult> {
  if (typeof name !== 'string' || name === '') throw new ConfigError('deleteStore needs a store name');
  const { discardUnfinished = false, onBlocked } = options ?? {}; // left out, or null
  if (typeof discardUnfinished !== 'boolean') throw new ConfigError('deleteStore discardUnfinished must be true or false');
  if (onBlocked !== undefined && typeof onBlocked !== 'function') throw new ConfigError('deleteStore onBlocked must be a function');
  const factory = platformIndexedDB();
  // IndexedDB's own failures (a DOMException: UnknownError, a closing connection, a full disk) as the engine
  // reports them, typed (StorageError and its kinds); the refusals above and UnfinishedWorkError pass as they are.
  const typed = (operation: string) => (error: unknown) => {
    throw toStorageError(name, operation, error);
  };
  const db = await openExisting(factory, name).catch(typed('deleteStore: open'));
  if (!db) return { deleted: false, discarded: NOTHING };
  let discarded: UnfinishedWork;
  try {
    discarded = await checkAndMark(db, name, discardUnfinished).catch(typed('deleteStore: check unfinished work'));
  } finally {
    db.close();
  }
  await deleteDatabase(factory, name, onBlocked).catch(typed('deleteStore: delete'));
  return { deleted: true, discarded };
}
