import { SyncError } from '../errors.ts';
import { preferLz4 } from './compression.ts';
import { moveEventsIntoPages, type MigrationProgressListener } from './migrate-pages.ts';
import {
  currentRole,
  missingObjects,
  missingPrivileges,
  NOT_PERMITTED,
  notPermitted,
  privilegesError,
  schemaObjectNames,
  connectRefusal,
} from './schema-access.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

/**
 * The tables of the reference store (PostgreSQL and PGlite alike), their
 * version, and the migration that brings an older database up to it.
 *
 * Versions:
 * 1. chronicle_logs, chronicle_events, chronicle_clients, chronicle_aggregates.
 * 2. Aggregate heads are read from the events' (log, aggregate_id, seq) index;
 *    chronicle_aggregates is no longer written. chronicle_logs.write_id.
 * 3. chronicle_clients.epoch: the client's rebase epoch (protocol version 2).
 * 4. chronicle_logs.move_state and move_peer: a log being moved to another
 *    database, or moved away (docs/scale-out.md); writes check them under the
 *    log's lock.
 * 5. Events in pages (pages.ts): chronicle_pages holds their JSON, many
 *    positions a row; chronicle_event_ids the unique (log, id);
 *    chronicle_heads the aggregate heads; chronicle_ranges each write's
 *    client ranges (which event a clientSeq is, which client an id came
 *    from). chronicle_events is moved into them and dropped. The per-event
 *    cost of a push is one small id row instead of a wide row under four
 *    unique indexes.
 *
 * A server knows one version. At start it migrates an older database to it
 * and refuses to start on a newer one. While it runs, a newer server may
 * migrate the database under it: then its pushes and /ready answer
 * 503 UNAVAILABLE (reason "schema-mismatch") instead of writing by rules it
 * no longer knows (see docs/protocol.md, "Rolling upgrade").
 */
export const SCHEMA_VERSION = 5;

/**
 * Tables of every log, created if missing. Safe to run concurrently from several processes (see migrate).
 *
 * Text keys use the "C" collation: they are compared for equality and never sorted
 * for people, and bytewise comparison keeps every index insert and probe cheap
 * (a database whose default collation is a libc locale pays strcoll on each).
 * Equality, hence uniqueness, is the same under every deterministic collation, so
 * tables made before this keep working unchanged, only slower.
 *
 * chronicle_heads is updated by every write, a row per aggregate it touches:
 * with half of each page left free, the new row versions fit beside the old
 * (heap-only updates, no index entry each), which halves what they cost.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS chronicle_schema (
  version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS chronicle_logs (
  log text COLLATE "C" PRIMARY KEY,
  head bigint NOT NULL DEFAULT 0,
  write_id text,
  move_state text,
  move_peer text
);
CREATE TABLE IF NOT EXISTS chronicle_pages (
  log text COLLATE "C" NOT NULL,
  first_position bigint NOT NULL,
  last_position bigint NOT NULL,
  events text NOT NULL,
  ends int4[] NOT NULL,
  PRIMARY KEY (log, first_position)
);
CREATE TABLE IF NOT EXISTS chronicle_event_ids (
  log text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  PRIMARY KEY (log, id)
);
CREATE TABLE IF NOT EXISTS chronicle_heads (
  log text COLLATE "C" NOT NULL,
  aggregate_id text COLLATE "C" NOT NULL,
  head bigint NOT NULL,
  PRIMARY KEY (log, aggregate_id)
) WITH (fillfactor = 50);
CREATE TABLE IF NOT EXISTS chronicle_ranges (
  log text COLLATE "C" NOT NULL,
  client_id text COLLATE "C" NOT NULL,
  from_seq bigint NOT NULL,
  to_seq bigint NOT NULL,
  first_position bigint NOT NULL,
  ids text NOT NULL,
  PRIMARY KEY (log, client_id, from_seq)
);
CREATE INDEX IF NOT EXISTS chronicle_ranges_position ON chronicle_ranges (log, first_position);
CREATE TABLE IF NOT EXISTS chronicle_clients (
  log text COLLATE "C" NOT NULL,
  client_id text COLLATE "C" NOT NULL,
  client_seq bigint NOT NULL,
  epoch bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (log, client_id)
);
`;

/** What SCHEMA_SQL creates: a start creates only what is missing (see schema-access.ts). */
const SCHEMA_OBJECTS = schemaObjectNames(SCHEMA_SQL);
/** The tables a server writes (chronicle_schema it only reads, outside a migration). */
const DATA_TABLES = SCHEMA_OBJECTS.tables.filter((table) => table !== 'chronicle_schema');
/** What the role lacks of the privileges a server uses: writing the data tables, reading chronicle_schema. */
const missingServingPrivileges = (db: SqlExecutor) => missingPrivileges(db, DATA_TABLES, ['chronicle_schema']);

/** Advisory lock key that serialises schema set-up between processes ("chronicle" in ASCII). */
const SCHEMA_LOCK_KEY = 0x6368726f6e;

/** A step of an upgrade: a statement, or code that runs statements (in the migration's transaction). */
type UpgradeStep = string | ((tx: SqlExecutor, onProgress?: MigrationProgressListener) => Promise<void>);

/** The steps from one version to the next, run in the migration's transaction. */
const UPGRADES: Record<number, readonly UpgradeStep[]> = {
  // 1 -> 2: the log's last write id; aggregate heads need no move (they are in the events), and
  // chronicle_aggregates is left as it was.
  1: ['ALTER TABLE chronicle_logs ADD COLUMN IF NOT EXISTS write_id text'],
  // 2 -> 3: the clients' rebase epochs (a constant default: no table rewrite on PostgreSQL >= 11).
  2: ['ALTER TABLE chronicle_clients ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0'],
  // 3 -> 4: where a log is being moved or has moved to (nullable, no default: no table rewrite).
  3: [
    'ALTER TABLE chronicle_logs ADD COLUMN IF NOT EXISTS move_state text',
    'ALTER TABLE chronicle_logs ADD COLUMN IF NOT EXISTS move_peer text',
  ],
  // 4 -> 5: events in pages (migrate-pages.ts; a table rewrite: writes wait for it, see docs/protocol.md,
  // "Rolling upgrade").
  4: [moveEventsIntoPages],
};

/** The error of a server whose schema version is not the database's. */
export function schemaMismatch(stored: number): SyncError {
  const advice =
    stored > SCHEMA_VERSION ? 'Upgrade this server: a newer one migrated the database.' : 'Restart this server to migrate the database.';
  return new SyncError(
    'UNAVAILABLE',
    `The database holds Chronicle schema version ${stored}; this server knows version ${SCHEMA_VERSION}. ${advice}`,
    { reason: 'schema-mismatch', databaseSchema: stored, serverSchema: SCHEMA_VERSION },
  );
}

/**
 * The error of a database at this server's schema version that lacks some of
 * its tables or columns (dropped or renamed outside Chronicle): 503, since
 * the requests are fine and the database is not, naming what is missing.
 */
export function schemaDamaged(missing: readonly string[], cause?: string): SyncError {
  const what = missing.length > 0 ? `lacks ${missing.join(', ')}` : `does not match Chronicle's schema (${cause ?? 'unknown'})`;
  return new SyncError(
    'UNAVAILABLE',
    `The database ${what}, at schema version ${SCHEMA_VERSION}: changed outside Chronicle? Put it back (a rename, or a restore from a backup).`,
    { reason: 'schema-damaged', missing: [...missing], ...(cause === undefined ? {} : { cause }) },
  );
}

/** For /ready and a statement that named a missing relation or column: the tables the database lacks, as schemaDamaged. */
export async function checkTablesPresent(db: SqlExecutor, cause?: string): Promise<void> {
  const missing = await missingObjects(db, SCHEMA_OBJECTS.tables);
  if (missing.length > 0 || cause !== undefined) throw schemaDamaged(missing, cause);
}

/** Reads the database's schema version (undefined before the first migration). */
export async function readSchemaVersion(db: SqlExecutor): Promise<number | undefined> {
  const rows = await db.query<{ version: number | string }>('SELECT version FROM chronicle_schema LIMIT 1');
  return rows[0] ? Number(rows[0].version) : undefined;
}

/** Throws schemaMismatch unless the database is at this server's version. */
export async function checkSchemaVersion(db: SqlExecutor): Promise<void> {
  const stored = await readSchemaVersion(db);
  if (stored !== SCHEMA_VERSION) throw schemaMismatch(stored ?? 0);
}

/** How often a server waiting for another's migration asks again for the migration lock. */
const MIGRATION_POLL_MS = 250;
/** Attempts at a migration that lost a deadlock or a lock wait to an older server's write (then it starts over). */
const MIGRATION_ATTEMPTS = 5;

/** A lock conflict the migration's transaction loses and may retry: deadlock_detected, lock_not_available. */
const lostLockRace = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '55P03';
};

/**
 * Creates the tables, or brings an older database up to SCHEMA_VERSION, in one
 * transaction. With `advisoryLock` (several processes may share the database),
 * concurrent migrations run one at a time, and an upgrade locks chronicle_logs
 * against writes: a push of an older server running meanwhile either commits
 * before the upgrade or sees the new version (and refuses, if it checks).
 *
 * A server that starts while another migrates waits for it, however long it
 * takes: it polls the advisory lock instead of waiting on it, since a wait
 * would count against the store's lock_timeout and statement_timeout and fail
 * its start. An upgrade's table locks can still meet an older server's write
 * in a deadlock or a lock wait that runs out (either order of the two tables
 * has such a case); then the transaction rolls back, nothing of it stays, and
 * it starts over, up to MIGRATION_ATTEMPTS times.
 */
export async function migrate(
  driver: SqlDriver,
  options: { advisoryLock: boolean; onProgress?: MigrationProgressListener | undefined },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateOnce(driver, options);
      break;
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === NOT_PERMITTED) throw await explainRefusal(driver, error);
      if (!lostLockRace(error) || attempt >= MIGRATION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400 * attempt));
    }
  }
  // A role that may read but not write (a GRANT forgotten) would fail every push: say so at the start instead.
  const missing = await missingServingPrivileges(driver);
  if (missing.length > 0) throw privilegesError(await currentRole(driver), missing);
}

/**
 * For /ready: the role still holds every privilege a server uses. A GRANT
 * revoked while it serves fails pushes (servingRefusal) but not a plain read,
 * so without this a load balancer would keep sending traffic to a server that
 * can store nothing. One catalog query.
 */
export async function checkServingPrivileges(driver: SqlDriver): Promise<void> {
  const missing = await missingServingPrivileges(driver);
  if (missing.length === 0) return;
  const { message } = privilegesError(await currentRole(driver), missing);
  throw new SyncError('UNAVAILABLE', message, { reason: 'store-permission' });
}

/**
 * A statement refused with insufficient_privilege while serving (a GRANT
 * revoked after the start, which checked them): 503, which clients retry
 * later with their events kept, saying what the role now lacks and the GRANTs
 * that give it back, for the operator who reads the request's log line.
 */
export async function servingRefusal(driver: SqlDriver, error: unknown): Promise<SyncError> {
  const role = await currentRole(driver);
  const missing = await missingServingPrivileges(driver).catch(() => []);
  const message =
    missing.length > 0
      ? privilegesError(role, missing).message
      : (connectRefusal(role, error) ?? `Role "${role}" was refused by the database: ${(error as Error).message ?? String(error)}`);
  return new SyncError('UNAVAILABLE', message, { reason: 'store-permission' });
}

/**
 * What a start refused with insufficient_privilege is told: when every table is
 * there and the role lacks privileges on them (no GRANT at all: reading the
 * schema version failed), the GRANTs; otherwise that a set-up or migration
 * needs the owner.
 */
async function explainRefusal(driver: SqlDriver, error: unknown): Promise<Error> {
  const all = [...SCHEMA_OBJECTS.tables, ...SCHEMA_OBJECTS.indexes];
  const lacking =
    (await missingObjects(driver, all).catch(() => all)).length === 0 ? await missingServingPrivileges(driver).catch(() => []) : [];
  if (lacking.length > 0) return privilegesError(await currentRole(driver), lacking);
  return notPermitted(driver, error, "set up or migrate Chronicle's tables");
}

async function migrateOnce(
  driver: SqlDriver,
  { advisoryLock, onProgress }: { advisoryLock: boolean; onProgress?: MigrationProgressListener | undefined },
): Promise<void> {
  await driver.transaction(async (tx) => {
    if (advisoryLock) {
      for (;;) {
        const rows = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [SCHEMA_LOCK_KEY]);
        if (rows[0]?.locked) break;
        await new Promise((resolve) => setTimeout(resolve, MIGRATION_POLL_MS));
      }
    }
    // A database that has them all is not asked to create any: the role may be one that only uses them.
    if ((await missingObjects(tx, [...SCHEMA_OBJECTS.tables, ...SCHEMA_OBJECTS.indexes])).length > 0) {
      for (const statement of SCHEMA_SQL.split(';')) {
        if (statement.trim()) await tx.query(statement);
      }
    }
    const stored = await readSchemaVersion(tx);
    if (stored !== undefined && stored > SCHEMA_VERSION) {
      throw new Error(
        `The database holds Chronicle schema version ${stored}; this server knows version ${SCHEMA_VERSION}. Upgrade the server.`,
      );
    }
    // Before an upgrade's steps, so the pages a 4 -> 5 migration writes are compressed the faster way too.
    await preferLz4(tx);
    if (stored === undefined) {
      await tx.query('INSERT INTO chronicle_schema (version) VALUES ($1::int)', [SCHEMA_VERSION]);
      return;
    }
    if (stored === SCHEMA_VERSION) return;
    if (stored < 5 && (await tx.query<{ t: string | null }>(`SELECT to_regclass('chronicle_events')::text AS t`))[0]?.t) {
      // 4 -> 5 drops chronicle_events. It is taken before chronicle_logs: an older server's fast write holds it
      // while it waits for its log's row, so taking chronicle_logs first would deadlock with that write. This
      // way the write finishes first, and later ones wait, then find the table gone (503 schema-mismatch). (An
      // older server's first push to a new log takes the two the other way round; migrate() retries then.)
      await tx.query('LOCK TABLE chronicle_events IN ACCESS EXCLUSIVE MODE');
    }
    await tx.query('LOCK TABLE chronicle_logs IN SHARE ROW EXCLUSIVE MODE');
    for (let version = stored; version < SCHEMA_VERSION; version++) {
      for (const step of UPGRADES[version] ?? []) {
        if (typeof step === 'string') await tx.query(step);
        else await step(tx, onProgress);
      }
    }
    await tx.query('UPDATE chronicle_schema SET version = $1::int', [SCHEMA_VERSION]);
  });
}
