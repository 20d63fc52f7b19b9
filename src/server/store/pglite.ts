import { ConfigError } from '../../core/errors.ts';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
import { explainOpenFailure } from './pglite-version.ts';

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
  /**
   * Aborting it stops the opening of a data directory (the CLI does on SIGTERM
   * before it listens): the child process that creates a new directory is
   * killed and leaves nothing half-made, the lock is released, and the promise
   * rejects with the signal's reason. Work in this process (opening PGlite, a
   * migration) is not interrupted: the abort is seen once it is done.
   */
  signal?: AbortSignal;
}

/** Default shared_buffers (MiB): measured against idle memory and push speed, see the README's sync server section. */
export const DEFAULT_PGLITE_SHARED_BUFFERS_MB = 16;

/**
 * The largest shared_buffers PGlite starts with: its WebAssembly memory holds at most 2 GiB, and 2048 MiB
 * fails inside PGlite's start with a message that names no option.
 */
export const MAX_PGLITE_SHARED_BUFFERS_MB = 1024;

/** The longest a new data directory's initdb child may take; then it is killed and the directory made in-process. */
const INITDB_TIMEOUT_MS = 120_000;
/** How long a killed initdb child is waited for (SIGKILL: at once, unless the kernel is stuck on its disk). */
const CHILD_EXIT_MS = 5_000;
/**
 * A new pgdata is made under this name and renamed into place once complete:
 * initdb writes PG_VERSION before it is done, so a directory it was stopped
 * in (a signal, a kill, a power cut) could pass for a database otherwise.
 */
const STAGING_PREFIX = 'pgdata.new-';

/**
 * Creates `<dataDir>/pgdata` (initdb) in a short-lived child process, when it
 * can. PGlite's initdb runs a second WebAssembly instance whose memory (and
 * the file-system bundle it unpacks) the process keeps: a server that created
 * its data directory idled at ~850 MB RSS, one that opened an existing
 * directory at ~350 MB. Returns false when it could not (no resolvable
 * package URL, the child failed, or a pgdata that is there but incomplete is
 * in the way): the caller then creates it in-process.
 *
 * The child has an IPC channel to this process and exits when it closes, so
 * it does not outlive this process (SIGKILL included) and go on writing a
 * directory that a restart takes over; `signal` kills it.
 */
async function initDataDirInChild(dataDir: string, signal: AbortSignal | undefined): Promise<boolean> {
  let url: string;
  try {
    url = import.meta.resolve('@electric-sql/pglite');
  } catch {
    return false;
  }
  try {
    // Fails if a pgdata is there (not empty) when it comes to renaming: false, as for a child that failed.
    return await makeStaged(dataDir, async (staging) => (await runInitdbChild(url, staging, signal)) === 0);
  } catch {
    return false;
  }
}

/** Runs initdb into `staging` in a child process; its exit code (null: it never started, or was killed). */
function runInitdbChild(url: string, staging: string, signal: AbortSignal | undefined): Promise<number | null> {
  const script = [
    `process.on('disconnect', () => process.exit(1));`,
    `const { PGlite } = await import(${JSON.stringify(url)});`,
    `const db = await PGlite.create(${JSON.stringify(staging)});`,
    `await db.close();`,
    `process.exit(0);`,
  ].join(' ');
  return new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    const settle = (exitCode: number | null): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
      resolve(exitCode);
    };
    const kill = (): void => {
      child.kill('SIGKILL');
      clearTimeout(timer);
      timer = setTimeout(() => settle(null), CHILD_EXIT_MS);
    };
    let timer = setTimeout(kill, INITDB_TIMEOUT_MS);
    if (signal?.aborted) kill();
    else signal?.addEventListener('abort', kill, { once: true });
    child.once('exit', settle);
    // Not started at all: no 'exit' follows. Other errors (a failed kill) leave it to 'exit' or the timer.
    child.once('error', () => {
      if (child.pid === undefined) settle(null);
    });
  });
}

/**
 * Creates `<dataDir>/pgdata` in this process, where the child could not (no
 * resolvable package URL: a bundled server; or the child failed): staged as
 * the child's is, since a process killed while initdb runs here would
 * otherwise leave a pgdata that passes for a database and that no later
 * start can open.
 */
async function initDataDirHere(dataDir: string, create: (dir: string) => Promise<{ close(): Promise<void> }>): Promise<void> {
  await makeStaged(dataDir, async (staging) => {
    const made = await create(staging);
    await made.close();
    return true;
  });
}

/**
 * Has `make` create a data directory under a staging name, and renames it to
 * `<dataDir>/pgdata` once `make` says it is done and it holds PG_VERSION
 * (STAGING_PREFIX says why). Whatever is left of the staging directory is
 * removed; one a kill left, the next start removes (removeUnfinishedDataDirs).
 */
async function makeStaged(dataDir: string, make: (staging: string) => Promise<boolean>): Promise<boolean> {
  const staging = join(dataDir, `${STAGING_PREFIX}${process.pid}`);
  try {
    if (!(await make(staging)) || !existsSync(join(staging, 'PG_VERSION'))) return false;
    await rename(staging, join(dataDir, 'pgdata'));
    return true;
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined); // gone if renamed
  }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [])).length === 0;
}

/** Removes what a start that was stopped while it made pgdata left (the directory is locked by this process). */
async function removeUnfinishedDataDirs(dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (name.startsWith(STAGING_PREFIX)) await rm(join(dataDir, name), { recursive: true, force: true });
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
  if (!Number.isInteger(sharedBuffersMb) || sharedBuffersMb < 1 || sharedBuffersMb > MAX_PGLITE_SHARED_BUFFERS_MB)
    throw new ConfigError(`sharedBuffersMb must be an integer from 1 to ${MAX_PGLITE_SHARED_BUFFERS_MB} (MiB)`);
  const settings = { postgresqlconf: [`shared_buffers=${sharedBuffersMb}MB`] };
  let unlock: (() => Promise<void>) | undefined;
  let db: PGlite;
  const signal = options.signal;
  signal?.throwIfAborted();
  const dataDir = options.dataDir;
  if (dataDir) {
    await makeDirectory(dataDir);
    unlock = await lockDataDir(dataDir);
    try {
      await removeUnfinishedDataDirs(dataDir);
      const pgdata = join(dataDir, 'pgdata');
      if (!existsSync(join(pgdata, 'PG_VERSION')) && !options.importPglite) await initDataDirInChild(dataDir, signal);
      signal?.throwIfAborted();
      if (!existsSync(join(pgdata, 'PG_VERSION')) && (await isEmptyOrMissing(pgdata))) {
        await initDataDirHere(dataDir, (dir) => PGlite.create(dir, settings));
      }
      db = await PGlite.create(pgdata, settings).catch(async (error: unknown) => {
        throw (await explainOpenFailure(dataDir, pgdata, () => PGlite.create())) ?? error;
      });
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
    signal?.throwIfAborted();
  } catch (error) {
    await db.close().catch(() => undefined);
    await unlock?.();
    throw error;
  }
  return createSqlLogStore({ kind: 'pglite', driver, mapError: mapPgliteError, ...(unlock ? { onClose: unlock } : {}) });
}
