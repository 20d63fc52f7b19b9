import { SyncError } from '../errors.ts';
import { buildPages, pageParams, pageRowsSql, type Page } from './pages.ts';
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

/** Advisory lock key that serialises schema set-up between processes ("chronicle" in ASCII). */
const SCHEMA_LOCK_KEY = 0x6368726f6e;

/** A step of an upgrade: a statement, or code that runs statements (in the migration's transaction). */
type UpgradeStep = string | ((tx: SqlExecutor) => Promise<void>);

/** Events per read while chronicle_events is moved into pages (bounds the memory a migration takes). */
const MOVE_CHUNK = 5000;

/**
 * 4 -> 5: chronicle_events into pages, ids, heads and ranges, then dropped
 * (an older server still running then fails its reads on the missing table,
 * which it explains as a schema mismatch: 503, never events served from a
 * table no one writes). Pages are cut by pages.ts, as a write cuts them;
 * a client's range is each run of its events where clientSeq and position
 * go on by one together (position - client_seq is constant exactly there,
 * since a client's events take increasing positions in clientSeq order).
 */
async function moveEventsIntoPages(tx: SqlExecutor): Promise<void> {
  const exists = await tx.query<{ t: string | null }>(`SELECT to_regclass('chronicle_events')::text AS t`);
  if (!exists[0]?.t) return;
  await tx.query('INSERT INTO chronicle_event_ids (log, id, position) SELECT log, id, position FROM chronicle_events');
  await tx.query(
    'INSERT INTO chronicle_heads (log, aggregate_id, head) SELECT log, aggregate_id, max(seq) FROM chronicle_events GROUP BY log, aggregate_id',
  );
  await tx.query(
    `INSERT INTO chronicle_ranges (log, client_id, from_seq, to_seq, first_position, ids)
     SELECT log, client_id, min(client_seq), max(client_seq), min(position), json_agg(id ORDER BY client_seq)::text
       FROM chronicle_events GROUP BY log, client_id, position - client_seq`,
  );
  const logs = await tx.query<{ log: string }>('SELECT DISTINCT log FROM chronicle_events');
  for (const { log } of logs) {
    let after = 0;
    // One chunk's tail that did not fill a page waits for the next chunk, so pages are as a write would cut them.
    let carry: { first: number; texts: string[] } = { first: 1, texts: [] };
    for (;;) {
      const rows = await tx.query<{ position: string | number; event: string }>(
        'SELECT position, event::text AS event FROM chronicle_events WHERE log = $1 AND position > $2::bigint ORDER BY position LIMIT $3::int',
        [log, after, MOVE_CHUNK],
      );
      for (const row of rows) {
        const position = Number(row.position);
        if (position !== carry.first + carry.texts.length) {
          // Positions are gapless; should a stored log have a hole, its pages start again after it.
          if (carry.texts.length > 0) await insertPages(tx, log, buildPages(carry.first, carry.texts));
          carry = { first: position, texts: [] };
        }
        carry.texts.push(row.event);
      }
      if (rows.length < MOVE_CHUNK) break;
      after = Number(rows[rows.length - 1]!.position);
      const pages = buildPages(carry.first, carry.texts);
      const full = pages.slice(0, -1);
      await insertPages(tx, log, full);
      const rest = pages[pages.length - 1]!;
      carry = { first: rest.first, texts: carry.texts.slice(rest.first - carry.first) };
    }
    if (carry.texts.length > 0) await insertPages(tx, log, buildPages(carry.first, carry.texts));
  }
  await tx.query('DROP TABLE chronicle_events');
}

async function insertPages(tx: SqlExecutor, log: string, pages: readonly Page[]): Promise<void> {
  if (pages.length === 0) return;
  await tx.query(
    `INSERT INTO chronicle_pages (log, first_position, last_position, events, ends)
     SELECT $1, r.f::bigint, r.l::bigint, r.t, r.e::int4[]
       FROM ${pageRowsSql(2)}`,
    [log, ...pageParams(pages)],
  );
}

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
  // 4 -> 5: events in pages (a table rewrite: writes wait for it, see docs/protocol.md, "Rolling upgrade").
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

/**
 * Creates the tables, or brings an older database up to SCHEMA_VERSION, in one
 * transaction. With `advisoryLock` (several processes may share the database),
 * concurrent migrations run one at a time, and an upgrade locks chronicle_logs
 * against writes: a push of an older server running meanwhile either commits
 * before the upgrade or sees the new version (and refuses, if it checks).
 */
export async function migrate(driver: SqlDriver, { advisoryLock }: { advisoryLock: boolean }): Promise<void> {
  await driver.transaction(async (tx) => {
    if (advisoryLock) await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
    for (const statement of SCHEMA_SQL.split(';')) {
      if (statement.trim()) await tx.query(statement);
    }
    const stored = await readSchemaVersion(tx);
    if (stored === undefined) {
      await tx.query('INSERT INTO chronicle_schema (version) VALUES ($1::int)', [SCHEMA_VERSION]);
      return;
    }
    if (stored > SCHEMA_VERSION) {
      throw new Error(
        `The database holds Chronicle schema version ${stored}; this server knows version ${SCHEMA_VERSION}. Upgrade the server.`,
      );
    }
    if (stored === SCHEMA_VERSION) return;
    if (stored < 5 && (await tx.query<{ t: string | null }>(`SELECT to_regclass('chronicle_events')::text AS t`))[0]?.t) {
      // 4 -> 5 drops chronicle_events. It is taken before chronicle_logs: an older server's write holds it
      // while it waits for its log's row, so taking chronicle_logs first could deadlock with that write. This
      // way the write finishes first, and later ones wait, then find the table gone (503 schema-mismatch).
      await tx.query('LOCK TABLE chronicle_events IN ACCESS EXCLUSIVE MODE');
    }
    await tx.query('LOCK TABLE chronicle_logs IN SHARE ROW EXCLUSIVE MODE');
    for (let version = stored; version < SCHEMA_VERSION; version++) {
      for (const step of UPGRADES[version] ?? []) {
        if (typeof step === 'string') await tx.query(step);
        else await step(tx);
      }
    }
    await tx.query('UPDATE chronicle_schema SET version = $1::int', [SCHEMA_VERSION]);
  });
}
