import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createPostgresStore, SCHEMA_VERSION, type LogStore } from '../../src/server/index.ts';
import { createTestDatabase, describePg, type TestDatabase } from './helpers.ts';

/**
 * The migration's locks on a database that several server processes share
 * (src/server/store/schema.ts, migrate), on PostgreSQL:
 *
 * 1. A server that starts while another one migrates waits for it, however
 *    long that takes: not only as long as its lock_timeout and
 *    statement_timeout, which a long 4 -> 5 migration outlasts.
 * 2. The 4 -> 5 upgrade locks chronicle_events, then chronicle_logs. An older
 *    server's first push to a new log takes them the other way round (it
 *    inserts the log's row, then reads chronicle_events): a deadlock, and
 *    PostgreSQL cancels the migration, which waited first. The migration then
 *    starts over and succeeds, instead of failing the server's start.
 */

/** The advisory lock migrate() takes ("chronicle" in ASCII). */
const SCHEMA_LOCK_KEY = 0x6368726f6e;

/** Schema 4's tables, as the previous release created them, at version 4, with one event. */
const SCHEMA_4 = `
CREATE TABLE chronicle_schema (version integer NOT NULL);
INSERT INTO chronicle_schema (version) VALUES (4);
CREATE TABLE chronicle_logs (log text COLLATE "C" PRIMARY KEY, head bigint NOT NULL DEFAULT 0, write_id text, move_state text, move_peer text);
CREATE TABLE chronicle_events (
  log text COLLATE "C" NOT NULL, position bigint NOT NULL, id text COLLATE "C" NOT NULL, aggregate_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL, client_id text COLLATE "C" NOT NULL, client_seq bigint NOT NULL, event json NOT NULL,
  PRIMARY KEY (log, position), UNIQUE (log, id), UNIQUE (log, client_id, client_seq), UNIQUE (log, aggregate_id, seq));
CREATE TABLE chronicle_clients (
  log text COLLATE "C" NOT NULL, client_id text COLLATE "C" NOT NULL, client_seq bigint NOT NULL, epoch bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (log, client_id));
INSERT INTO chronicle_logs (log, head) VALUES ('orders', 1);
INSERT INTO chronicle_events VALUES ('orders', 1, 'e1', 'order-1', 1, 'till-1', 1, '{"id":"e1","position":1}');
INSERT INTO chronicle_clients VALUES ('orders', 'till-1', 1, 0);`;

let database: TestDatabase | undefined;
const open: (LogStore | pg.Client)[] = [];

afterEach(async () => {
  for (const item of open.splice(0)) await (item instanceof pg.Client ? item.end() : item.close()).catch(() => undefined);
  await database?.drop();
  database = undefined;
});

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  open.push(client);
  return client;
}

const schemaVersion = async (client: pg.Client): Promise<number> =>
  Number((await client.query<{ version: number }>('SELECT version FROM chronicle_schema')).rows[0]!.version);

describePg('the migration on a shared PostgreSQL database', () => {
  it('a server starting while another migrates waits for it, past its own lock and statement timeouts', async () => {
    database = await createTestDatabase();
    const other = await connect(database.url);
    // Another server's migration: it holds the migration lock for 8 s, longer than this server's lock and statement
    // timeouts and than the retries of a lost lock race would wait in all.
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
    const started = Date.now();
    const opening = createPostgresStore({ connectionString: database.url, poolSize: 2, lockTimeoutMs: 200, statementTimeoutMs: 400 });
    setTimeout(() => void other.query('COMMIT'), 8000);
    const store = await opening;
    open.push(store);
    expect(Date.now() - started).toBeGreaterThanOrEqual(7900);
    expect(await store.head('orders')).toBe(0);
    expect(await schemaVersion(other)).toBe(SCHEMA_VERSION);
  }, 30_000);

  it("an older server's first push to a new log deadlocks with the 4 -> 5 upgrade: the upgrade starts over and succeeds", async () => {
    database = await createTestDatabase();
    const setup = await connect(database.url);
    await setup.query(SCHEMA_4);
    // The older server's slow path for a log it never saw: the log's row first, then a read of chronicle_events.
    const old = await connect(database.url);
    await old.query('BEGIN');
    await old.query(`INSERT INTO chronicle_logs (log, head) VALUES ('new-log', 0)`);

    const opening = createPostgresStore({ connectionString: database.url, poolSize: 2 });
    // The upgrade has taken chronicle_events and waits for chronicle_logs, which the older server's row holds.
    for (let i = 0; i < 100; i++) {
      const waiting = await setup.query(`SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'chronicle_logs'::regclass`);
      if (waiting.rows.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Now the older server reads chronicle_events: each waits for the other.
    const read = old.query(`SELECT count(*) FROM chronicle_events WHERE log = 'new-log'`).then(
      () => old.query('COMMIT'),
      () => old.query('ROLLBACK'),
    );
    const store = await opening;
    open.push(store);
    await read;
    expect(await schemaVersion(setup)).toBe(SCHEMA_VERSION);
    expect((await store.pull('orders', { after: 0, limit: 10 })).eventsJson).toEqual(['{"id":"e1","position":1}']);
  }, 30_000);
});
