import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { loadPeer, type PeerImporter } from '../optional-peer.ts';
import type { MigrationProgressListener } from './migrate-pages.ts';
import { migrate } from './schema.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import { createSqlLogStore } from './sql-log-store.ts';
import { mapPgliteError } from './sql-errors.ts';
import type { LogStore } from './types.ts';
import { makeDirectory } from './make-directory.ts';
import { takePidLock } from '../pid-lock.ts';

export interface PgliteStoreOptions {
  /**
   * Directory that holds the store; created if missing. The database lives in
   * `<dataDir>/pgdata`; `<dataDir>/chronicle.lock` keeps a second process out.
   * Omit for an in-memory store (lost on close).
   */
  dataDir?: string;
  /**
   * PostgreSQL's shared_buffers in MiB (default 16; PGlite's own default is
   * 128). Pages not in them are read through the operating system's file
   * cache, which a data directory has anyway; see the README for the memory
   * and speed this trades.
   */
  sharedBuffersMb?: number;
  /**
   * Called as an upgrade of an older database moves events (schema 4 to 5,
   * at the store's start, in windows of 10,000 events): how many so far. Such
   * an upgrade takes about 2 s per 100,000 events, and the store is not open
   * until it is done; the CLI logs it.
   */
  onMigrationProgress?: MigrationProgressListener;
  /**
   * How to load the "@electric-sql/pglite" package (tests replace it); resolves
   * to that module. Typed loosely on purpose: PGlite's declarations need
   * Emscripten's types, which a consumer of ours should not have to install.
   */
  importPglite?: PeerImporter<unknown>;
}

/** Default shared_buffers (MiB): measured against idle memory and push speed, see the README's sync server section. */
export const DEFAULT_PGLITE_SHARED_BUFFERS_MB = 16;

/**
 * Creates a new data directory (initdb) in a short-lived child process, when
 * it can. PGlite's initdb runs a second WebAssembly instance whose memory (and
 * the file-system bundle it unpacks) the process keeps: a server that created
 * its data directory idled at ~850 MB RSS, one that opened an existing
 * directory at ~350 MB. Returns false when it could not (no resolvable
 * package URL, or the child failed): the caller then creates it in-process.
 */
async function initDataDirInChild(pgdata: string): Promise<boolean> {
  let url: string;
  try {
    url = import.meta.resolve('@electric-sql/pglite');
  } catch {
    return false;
  }
  const script = `const { PGlite } = await import(${JSON.stringify(url)}); const db = await PGlite.create(${JSON.stringify(pgdata)}); await db.close();`;
  try {
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 });
    return existsSync(join(pgdata, 'PG_VERSION'));
  } catch {
    return false;
  }
}

type Queryable = Pick<PGlite, 'query'>;
type PgliteModule = { PGlite: typeof PGlite };

function executor(db: Queryable): SqlExecutor {
  return {
    async query<R extends object>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await db.query<R>(text, [...params]);
      return result.rows;
    },
  };
}

/**
 * One process per data directory: PGlite is single-process, and two of them on
 * one directory would corrupt it.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'chronicle.lock');
  const lock = await takePidLock(path);
  if ('heldBy' in lock) {
    throw new Error(`The data directory ${dataDir} is in use by process ${lock.heldBy} (${path}); one server per data directory`);
  }
  return lock.release;
}

/**
 * A log store in embedded PGlite (PostgreSQL compiled to WebAssembly): no server
 * to run. PGlite runs one statement at a time, so pushes are serialised by
 * construction (the SQL still locks the log row, as on PostgreSQL).
 */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<LogStore> {
  const importPglite = (options.importPglite ?? (() => import('@electric-sql/pglite'))) as PeerImporter<PgliteModule>;
  const { PGlite } = await loadPeer('@electric-sql/pglite', 'createPgliteStore', importPglite);
  const sharedBuffersMb = options.sharedBuffersMb ?? DEFAULT_PGLITE_SHARED_BUFFERS_MB;
  if (!Number.isInteger(sharedBuffersMb) || sharedBuffersMb < 1) throw new Error('sharedBuffersMb must be a positive integer');
  const settings = { postgresqlconf: [`shared_buffers=${sharedBuffersMb}MB`] };
  let unlock: (() => Promise<void>) | undefined;
  let db: PGlite;
  if (options.dataDir) {
    await makeDirectory(options.dataDir);
    unlock = await lockDataDir(options.dataDir);
    try {
      const pgdata = join(options.dataDir, 'pgdata');
      if (!existsSync(join(pgdata, 'PG_VERSION')) && !options.importPglite) await initDataDirInChild(pgdata);
      db = await PGlite.create(pgdata, settings);
    } catch (error) {
      await unlock();
      throw error;
    }
  } else {
    db = await PGlite.create(settings);
  }
  const driver: SqlDriver = {
    ...executor(db),
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    async exec(script) {
      await db.exec(script);
    },
    close: () => db.close(),
  };
  try {
    await migrate(driver, { advisoryLock: false, onProgress: options.onMigrationProgress });
  } catch (error) {
    await db.close().catch(() => undefined);
    await unlock?.();
    throw error;
  }
  return createSqlLogStore({ kind: 'pglite', driver, mapError: mapPgliteError, ...(unlock ? { onClose: unlock } : {}) });
}
