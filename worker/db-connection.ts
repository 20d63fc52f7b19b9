import { StorageBlockedError, StorageClosedError, StoreClosedError } from '../src/core/errors.ts';
import { DatabaseGoneError, openChronicleDb, type ChronicleDB } from './db.ts';
import { deleteDatabaseWithin } from './delete-database.ts';

/** How long an open finishing a deletion waits for connections that do not close when told. */
const FINISH_BLOCKED_MS = 3_000;
/** Reopens tried after the browser closed the connection itself, 50 ms apart and doubling (~3 s in all). */
const REOPEN_ATTEMPTS = 6;

/**
 * An engine's connection to its database: opened when first needed, dropped
 * when another tab's upgrade or the browser asks, and reopened lazily by the
 * next call, but only while the database exists.
 */
export interface DbConnection {
  /** The open database, opening it (or reopening it) when needed. */
  get(): Promise<ChronicleDB>;
  /**
   * Set once the database was deleted under this engine (deleteStore, another
   * tab, the browser clearing the site's data): get() fails with it from then on.
   */
  deleted(): StoreClosedError | undefined;
  /**
   * The clientId of the database this engine opened: a reopen that finds
   * another (the database was deleted while this engine held no connection,
   * so it heard of no delete, and another tab made it again) is a deleted store.
   */
  identify(clientId: string): void;
  /** The database is being deleted (an append found MetaRecord.deleting): as if its delete had been heard. */
  markDeleted(): StoreClosedError;
  /**
   * Finishes a deletion a page began and did not end (MetaRecord.deleting
   * found at the first open): closes this connection, deletes the database,
   * and lets the next get() make it afresh. Only before identify(). Fails with
   * StorageBlockedError when a connection that does not close holds it.
   */
  finishDeletion(): Promise<void>;
  /**
   * `work` on `db`, or its failure once the browser closed `db` itself
   * (OpenHooks.onForcedClose): StoreClosedError ('deleted') when the database
   * turns out to be gone, else StorageClosedError. A call in flight then fails
   * instead of waiting for transactions that may never settle.
   */
  whileOpen<T>(db: ChronicleDB, work: Promise<T>): Promise<T>;
  /** The engine closes: the connection goes, and get() fails with StoreClosedError from now on. */
  close(): Promise<void>;
}

/** A connection the browser may close itself: the calls in flight on it, and the error they fail with once it did. */
interface ForcedClose {
  waiting: Set<(error: unknown) => void>;
  error?: unknown;
}

/**
 * `onDeleted` is called once, when the database is found deleted. Once the
 * engine has identified its database, the connection never makes it again:
 * a store silently started afresh (a new clientId, the next user's events
 * beside this one's state) would be worse than one that says it stopped.
 */
export function createDbConnection(name: string, onDeleted: () => void): DbConnection {
  let current: Promise<ChronicleDB> | undefined;
  let closed = false;
  let deletedError: StoreClosedError | undefined;
  let identity: string | undefined;
  /** Per connection: the calls in flight to fail if the browser closes it, and the error once it has. */
  const forcedCloses = new WeakMap<ChronicleDB, ForcedClose>();
  const markDeleted = (): StoreClosedError => {
    if (!deletedError) {
      deletedError = new StoreClosedError(name, 'deleted');
      onDeleted();
    }
    return deletedError;
  };

  const open = (): Promise<ChronicleDB> => {
    const drop = () => {
      // The next call reopens it (unless it was deleted).
      if (current === opening) current = undefined;
      opening.then(
        (db) => db.close(),
        () => undefined,
      );
    };
    const forcedClose: ForcedClose = { waiting: new Set() };
    const settleForcedClose = (error: unknown) => {
      forcedClose.error = error;
      for (const fail of forcedClose.waiting) fail(error);
      forcedClose.waiting.clear();
    };
    const hooks = {
      onGone: drop,
      onForcedClose() {
        drop();
        // Cleared site data closes the connection before the database is gone: a reopen (which must find it,
        // once identified) says which it was, and stops the store if it was deleted, idle or not.
        const reason = 'the browser closed the database';
        const check = identity === undefined ? Promise.resolve() : reopenAfterForcedClose();
        check.then(
          () => settleForcedClose(new StorageClosedError(name, reason)),
          (error: unknown) => settleForcedClose(deletedError ?? error),
        );
      },
      onDeleted() {
        drop();
        // Before the engine knows which database is its own (the open finishing a deletion another tab's
        // open finished first), a delete only drops the connection: the open tries again.
        if (identity !== undefined) markDeleted();
      },
    };
    // Once identified, a reopen must find the database (openChronicleDb's mustExist), and find it its own.
    const opening: Promise<ChronicleDB> = openChronicleDb(name, hooks, identity !== undefined)
      .then(async (db) => {
        if (identity !== undefined && (await db.get('meta', 'client'))?.clientId !== identity) {
          db.close();
          throw new DatabaseGoneError(name);
        }
        forcedCloses.set(db, forcedClose);
        return db;
      })
      .catch((error: unknown) => {
        if (current === opening) current = undefined;
        throw error instanceof DatabaseGoneError ? markDeleted() : error;
      });
    opening.catch(() => undefined);
    return opening;
  };

  /**
   * Reopens after the browser closed the connection. An open made while the
   * browser is still clearing the site's data is aborted without saying
   * whether the database survives: it is tried again, a few times, until it
   * finds the database or finds it gone (markDeleted).
   */
  const reopenAfterForcedClose = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await connection.get();
        return;
      } catch (error) {
        if (deletedError || closed || attempt >= REOPEN_ATTEMPTS) throw deletedError ?? error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  };

  const connection: DbConnection = {
    get() {
      if (deletedError) return Promise.reject(deletedError);
      if (closed) return Promise.reject(new StoreClosedError(name));
      current ??= open();
      return current;
    },
    deleted: () => deletedError,
    whileOpen(db, work) {
      const forced = forcedCloses.get(db);
      if (!forced) return work;
      // Not a Promise.race with one long-lived promise: each call would leave a reaction on it for good.
      return new Promise((resolve, reject) => {
        if ('error' in forced) return reject(forced.error);
        forced.waiting.add(reject);
        work.then(
          (value) => {
            forced.waiting.delete(reject);
            resolve(value);
          },
          (error: unknown) => {
            forced.waiting.delete(reject);
            reject(error);
          },
        );
      });
    },
    identify(clientId) {
      identity = clientId;
    },
    markDeleted,
    async finishDeletion() {
      const db = await current?.catch(() => undefined);
      db?.close();
      current = undefined;
      // Stores close at once when told; a connection that does not (a raw one) fails the open, not hangs it.
      await deleteDatabaseWithin(indexedDB, name, FINISH_BLOCKED_MS, () => new StorageBlockedError(name, 'delete'));
    },
    async close() {
      closed = true;
      const db = await current?.catch(() => undefined);
      db?.close();
      current = undefined;
    },
  };
  return connection;
}
