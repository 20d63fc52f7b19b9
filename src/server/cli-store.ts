import { resolve } from 'node:path';
import type { ShardMap } from './shard-map.ts';
import type { MigrationProgressListener } from './store/migrate-pages.ts';
import { createPgliteStore, type PgliteStoreOptions } from './store/pglite.ts';
import { createPostgresStore, type PostgresTimeouts } from './store/postgres.ts';
import { createShardedPostgresStore } from './store/sharded-postgres.ts';
import type { LogStore } from './store/types.ts';

/** The command's log store: which one its flags name, opened, and how the start-up line describes it. */

/** Where a PostgreSQL URL points, without its credentials (a form the URL parser does not take is just named as such). */
export function placeOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the database of --database-url';
  }
}

/** Where the server keeps its log, as the command line says, being opened (not awaited: a signal may stop it), and how to describe it. */
export function openLogStore(where: {
  sharding: { map: ShardMap } | undefined;
  databaseUrl: string | undefined;
  memory: boolean;
  data: string | undefined;
  postgres: PostgresTimeouts & {
    poolSize?: number;
    maxWritesInFlight?: number;
    onError(error: Error): void;
    onMigrationProgress: MigrationProgressListener;
  };
  pglite: Omit<PgliteStoreOptions, 'dataDir'>;
}): { opening: Promise<LogStore>; described: string } {
  const { sharding, databaseUrl, postgres, pglite } = where;
  if (sharding) {
    const shards = Object.entries(sharding.map.shards).map(([name, url]) => `${name} (${placeOf(url)})`);
    return { opening: createShardedPostgresStore({ ...sharding.map, ...postgres }), described: `PostgreSQL shards ${shards.join(', ')}` };
  }
  if (databaseUrl) {
    return {
      opening: createPostgresStore({ connectionString: databaseUrl, ...postgres }),
      described: `PostgreSQL ${placeOf(databaseUrl)}`,
    };
  }
  if (where.memory) return { opening: createPgliteStore(pglite), described: 'PGlite in memory (nothing is kept after exit)' };
  const dataDir = resolve(where.data ?? './chronicle-data');
  return { opening: createPgliteStore({ dataDir, ...pglite }), described: `PGlite ${dataDir}` };
}
