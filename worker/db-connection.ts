import { StorageBlockedError, StoreClosedError } from '../src/core/errors.ts';
import { DatabaseGoneError, openChronicleDb, type ChronicleDB } from './db.ts';
import { deleteDatabaseWithin } from './delete-database.ts';

/** How long an open finishing a deletion waits for connections that do not close when told. */
const FINISH_BLOCKED_MS = 3_000;

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
  /** The engine closes: the connection goes, and get() fails with StoreClosedError from now on. */
  close(): Promise<void>;
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
    const hooks = {
      onGone: drop,
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
        return db;
      })
      .catch((error: unknown) => {
        if (current === opening) current = undefined;
        throw error instanceof DatabaseGoneError ? markDeleted() : error;
      });
    opening.catch(() => undefined);
    return opening;
  };

  return {
    get() {
      if (deletedError) return Promise.reject(deletedError);
      if (closed) return Promise.reject(new StoreClosedError(name));
      current ??= open();
      return current;
    },
    deleted: () => deletedError,
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
}
