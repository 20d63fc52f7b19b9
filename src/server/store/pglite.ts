import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { createSqlLogStore, migrate, type SqlDriver, type SqlExecutor } from './sql.ts';
import type { LogStore } from './types.ts';

export interface PgliteStoreOptions {
  /** Directory that holds the database; created if missing. Omit for an in-memory store (lost on close). */
  dataDir?: string;
}

type Queryable = Pick<PGlite, 'query'>;

function executor(db: Queryable): SqlExecutor {
  return {
    async query<R extends object>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await db.query<R>(text, [...params]);
      return result.rows;
    },
  };
}

/**
 * A log store in embedded PGlite (PostgreSQL compiled to WebAssembly): no server
 * to run. One process owns a data directory at a time; PGlite runs one
 * statement at a time, so pushes are serialised by construction (the SQL still
 * locks the log row, as on PostgreSQL).
 */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<LogStore> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const db = options.dataDir ? await PGlite.create(options.dataDir) : await PGlite.create();
  const driver: SqlDriver = {
    ...executor(db),
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    async exec(script) {
      await db.exec(script);
    },
    close: () => db.close(),
  };
  try {
    await migrate(driver, { advisoryLock: false });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return createSqlLogStore({ kind: 'pglite', driver });
}
