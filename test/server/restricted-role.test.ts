import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createJsonLogger, createPostgresStore, createSyncServer, type LogStore } from '../../src/server/index.ts';
import { SCHEMA_SQL } from '../../src/server/store/schema.ts';
import { schemaObjectNames } from '../../src/server/store/schema-access.ts';
import { killChildren, runCli } from './child-server.ts';
import { createTestDatabase, describePg, errorOf, httpPush, okPush, PG_BASE_URL, TestClient, type TestDatabase } from './helpers.ts';

/**
 * A server that runs as a role that may use Chronicle's tables but neither
 * create nor alter them (a deployment's usual split: the owner migrates, the
 * app role reads and writes). PostgreSQL 15 grants no CREATE on `public` to
 * other roles, and `CREATE INDEX IF NOT EXISTS` wants the table's owner even
 * when the index exists, so a start must not ask for either when the tables
 * are there (src/server/store/schema.ts, compression.ts).
 */

afterAll(killChildren);

const open: (LogStore | pg.Client)[] = [];
let database: TestDatabase | undefined;
let role: string | undefined;

afterEach(async () => {
  for (const item of open.splice(0)) await (item instanceof pg.Client ? item.end() : item.close()).catch(() => undefined);
  await database?.drop();
  database = undefined;
  if (role) {
    const admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
    role = undefined;
  }
});

/** A login role with `privileges` (none: false) on the tables that exist in `url`'s database now, and nothing more. */
async function appRole(url: string, privileges: string | false): Promise<string> {
  const name = `chronicle_app_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    await sql.query(`CREATE ROLE ${name} LOGIN`);
    role = name;
    if (privileges) await sql.query(`GRANT ${privileges} ON ALL TABLES IN SCHEMA public TO ${name}`);
  } finally {
    await sql.end();
  }
  return name;
}

/** `url` logging in as `name` instead (the test server trusts local logins). */
function asRole(url: string, name: string): string {
  const withRole = new URL(url);
  withRole.username = name;
  withRole.password = '';
  return withRole.toString();
}

/** A new database set up by its owner (this run's admin role): the tables exist, at this version. */
async function ownerSetUp(): Promise<TestDatabase> {
  database = await createTestDatabase();
  await (await createPostgresStore({ connectionString: database.url, poolSize: 1 })).close();
  return database;
}

/** A connection as the tables' owner, closed after the test. */
async function ownerConnection(url: string): Promise<pg.Client> {
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  open.push(owner);
  return owner;
}

/** Why a store could not start as role `name` (undefined: it started). */
async function startRefusal(url: string, name: string): Promise<Error | undefined> {
  return createPostgresStore({ connectionString: asRole(url, name), poolSize: 1 }).then(
    (store) => void open.push(store),
    (refused: unknown) => refused as Error,
  );
}

/** A store started as role `name` takes `count` events. */
async function expectServesAs(url: string, name: string, count = 1): Promise<void> {
  const store = await createPostgresStore({ connectionString: asRole(url, name), poolSize: 1 });
  open.push(store);
  const ids = Array.from({ length: count }, (_, i) => `order-${i + 1}`);
  expect((await store.push('orders', new TestClient('till-1').next(ids))).head).toBe(count);
}

/** Runs, as the owner, the GRANTs a refusal names (as written). */
async function runGrantsOf(owner: pg.Client, error: Error | undefined): Promise<void> {
  expect(error?.message).toContain('GRANT ');
  await owner.query(error!.message.slice(error!.message.indexOf('GRANT ')));
}

it('knows every table and index the schema creates', () => {
  expect(schemaObjectNames(SCHEMA_SQL)).toEqual({
    tables: [
      'chronicle_schema',
      'chronicle_logs',
      'chronicle_pages',
      'chronicle_event_ids',
      'chronicle_heads',
      'chronicle_ranges',
      'chronicle_clients',
    ],
    indexes: ['chronicle_ranges_position'],
  });
  expect(SCHEMA_SQL.match(/CREATE /g)).toHaveLength(8);
});

describePg('a server whose role may use the tables but not create or alter them', () => {
  it('starts on a database its owner set up, and stores and serves pushes', async () => {
    const database = await ownerSetUp();
    const name = await appRole(database.url, 'SELECT, INSERT, UPDATE, DELETE');

    const store = await createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 2 });
    open.push(store);
    const client = new TestClient('till-1');
    expect((await store.push('orders', client.next(['order-1', 'order-2', 'order-1']))).head).toBe(3);
    const pulled = await store.pull('orders', { after: 0, limit: 10 });
    expect(pulled.eventsJson.map((json) => (JSON.parse(json) as { aggregateId: string }).aggregateId)).toEqual([
      'order-1',
      'order-2',
      'order-1',
    ]);
  });

  it('leaves the page columns compression to the owner instead of failing the start', async () => {
    const database = await ownerSetUp();
    const owner = await ownerConnection(database.url);
    // As a release before lz4 left them: the owner's next start would switch them, this role may not.
    await owner.query(`ALTER TABLE chronicle_pages ALTER COLUMN events SET COMPRESSION default;
      ALTER TABLE chronicle_pages ALTER COLUMN ends SET COMPRESSION default;
      ALTER TABLE chronicle_ranges ALTER COLUMN ids SET COMPRESSION default`);
    const name = await appRole(database.url, 'SELECT, INSERT, UPDATE, DELETE');

    await expectServesAs(database.url, name);
    const methods = await owner.query<{ method: string }>(
      `SELECT attcompression::text AS method FROM pg_attribute WHERE attrelid = 'chronicle_pages'::regclass AND attname IN ('events', 'ends')`,
    );
    expect(methods.rows.map((row) => row.method)).toEqual(['', '']);
  });

  it('refuses to start as a role that may read but not write, naming what it lacks and the GRANTs that give it', async () => {
    const database = await ownerSetUp();
    const name = await appRole(database.url, 'SELECT');
    const error = await startRefusal(database.url, name);
    expect(error?.message).toContain(
      `Role "${name}" lacks privileges a Chronicle server needs: INSERT, UPDATE, DELETE on public.chronicle_logs; INSERT, UPDATE, DELETE on public.chronicle_pages;`,
    );
    expect(error?.message).toContain(`GRANT INSERT, UPDATE, DELETE ON public.chronicle_clients TO "${name}";`);
    expect(error?.message).not.toContain('chronicle_schema');

    // The GRANTs it names are the fix, as they are written.
    await runGrantsOf(await ownerConnection(database.url), error);
    await expectServesAs(database.url, name);
  });

  it('a role with no grant at all, and a name that needs quoting, gets GRANTs that run as written', async () => {
    const database = await ownerSetUp();
    const name = `chronicle_App"x y_${Math.random().toString(36).slice(2, 8)}`;
    const quoted = `"${name.replaceAll('"', '""')}"`;
    const owner = await ownerConnection(database.url);
    await owner.query(`CREATE ROLE ${quoted} LOGIN`);
    role = quoted;
    const error = await startRefusal(database.url, name);
    // Not "may not set up or migrate": the tables are there, only the GRANTs are missing.
    expect(error?.message).toContain('SELECT, INSERT, UPDATE, DELETE on public.chronicle_logs;');
    expect(error?.message).toContain(`GRANT SELECT ON public.chronicle_schema TO ${quoted};`);
    await runGrantsOf(owner, error);
    await expectServesAs(database.url, name);
  });

  it('privileges granted column by column count as granted', async () => {
    const database = await ownerSetUp();
    const name = await appRole(database.url, 'DELETE');
    const owner = await ownerConnection(database.url);
    const columns = await owner.query<{ table_name: string; names: string }>(
      `SELECT table_name, string_agg(column_name, ', ') AS names FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name LIKE 'chronicle_%' GROUP BY table_name`,
    );
    for (const { table_name, names } of columns.rows) {
      await owner.query(`GRANT SELECT (${names}), INSERT (${names}), UPDATE (${names}) ON ${table_name} TO ${name}`);
    }
    await expectServesAs(database.url, name, 2);
  });

  it('refuses to set up an empty database with an error that names the role and what to do', async () => {
    database = await createTestDatabase();
    const name = await appRole(database.url, false);
    const start = createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 1 });
    await expect(start).rejects.toThrow(new RegExp(`Role "${name}" may not set up or migrate Chronicle's tables \\(permission denied`));
    await expect(start).rejects.toThrow(
      /Run `chronicle-server migrate` \(or start a server once\) as the role that owns Chronicle's tables/,
    );
  });

  it('a privilege revoked while it serves: pushes and /ready get 503 store-permission, logged with the GRANTs; granted again, the same push is stored once', async () => {
    const database = await ownerSetUp();
    const owner = await ownerConnection(database.url);
    const name = await appRole(database.url, 'SELECT, INSERT, UPDATE, DELETE');
    const store = await createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 2 });
    open.push(store);
    const lines: Record<string, unknown>[] = [];
    const server = createSyncServer({ store, closeStore: false, logger: createJsonLogger((line) => lines.push(JSON.parse(line))) });
    const { url } = await server.listen(0, '127.0.0.1');
    try {
      const client = new TestClient('till-1');
      expect(okPush(await httpPush(url, 'orders', client.next(['order-1']))).head).toBe(1);

      await owner.query(`REVOKE INSERT ON chronicle_event_ids FROM ${name}`);
      const push = client.next(['order-2', 'order-1']);
      const reply = await httpPush(url, 'orders', push);
      const refused = errorOf(reply);
      expect(refused).toMatchObject({ status: 503, code: 'UNAVAILABLE', details: { reason: 'store-permission' } });
      expect(reply.headers.get('retry-after')).not.toBeNull();
      expect(refused.message).toContain(`Role "${name}" lacks privileges a Chronicle server needs: INSERT on public.chronicle_event_ids`);
      // The operator's log line says why, without reproducing it.
      const failed = lines.find((line) => line.msg === 'request failed');
      expect(failed).toMatchObject({ status: 503, code: 'UNAVAILABLE', reason: 'store-permission', action: 'push' });
      expect(failed?.message).toBe(refused.message);

      // A load balancer asking /ready takes the server out of rotation, told what the role lacks.
      const notReady = await fetch(`${url}/ready`);
      expect(notReady.status).toBe(503);
      const notReadyBody = (await notReady.json()) as { error: { code: string; message: string; details: { reason: string } } };
      expect(notReadyBody.error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'store-permission' } });
      expect(notReadyBody.error.message).toContain(`INSERT on public.chronicle_event_ids`);
      expect(notReadyBody.error.message).toContain(`GRANT INSERT ON public.chronicle_event_ids TO "${name}";`);

      await runGrantsOf(owner, new Error(refused.message));
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const stored = okPush(await httpPush(url, 'orders', push));
      expect(stored).toMatchObject({ head: 3, duplicates: 0, clientSeq: 3 });
      const events = (await store.pull('orders', { after: 0, limit: 10 })).eventsJson.map((json) => JSON.parse(json) as { id: string });
      expect(events.map((event) => event.id)).toEqual(['till-1:1', 'till-1:2', 'till-1:3']);
    } finally {
      await server.close();
    }
  });
});

describePg('chronicle-server migrate', () => {
  it('sets up a database as its owner and exits, so a role that only uses the tables can serve it; again it changes nothing', async () => {
    database = await createTestDatabase();
    const first = await runCli(['migrate', '--database-url', database.url]);
    expect(first.output).toMatch(/PostgreSQL .*: at Chronicle schema 5\n/);
    expect(first.code).toBe(0);
    const name = await appRole(database.url, 'SELECT, INSERT, UPDATE, DELETE');
    const store = await createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 1 });
    open.push(store);
    expect((await store.push('orders', new TestClient('till-1').next(['order-1', 'order-1']))).head).toBe(2);

    const again = await runCli(['migrate', '--database-url', database.url]);
    expect(again.code).toBe(0);
    expect((await store.pull('orders', { after: 0, limit: 10 })).eventsJson).toHaveLength(2);
  });

  it('takes the PostgreSQL timeouts: a migration blocked on a lock ends at --pg-statement-timeout, with exit 1', async () => {
    database = await createTestDatabase();
    expect((await runCli(['migrate', '--database-url', database.url])).code).toBe(0);
    const holder = await ownerConnection(database.url);
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE chronicle_schema IN ACCESS EXCLUSIVE MODE');
    try {
      // By default the lock wait (5 s) ends first; given a shorter statement timeout, that one does.
      const blocked = await runCli([
        'migrate',
        '--database-url',
        database.url,
        '--pg-statement-timeout',
        '300',
        '--pg-lock-timeout',
        '20000',
      ]);
      expect(blocked.code).toBe(1);
      expect(blocked.output).toContain('canceling statement due to statement timeout');
    } finally {
      await holder.query('ROLLBACK');
    }
    const bad = await runCli(['migrate', '--database-url', database.url, '--pg-lock-timeout', 'soon']);
    expect(bad.output).toContain('--pg-lock-timeout must be a positive integer, got "soon"');
    expect(bad.code).not.toBe(0);
  });

  it('as a role that may not create the tables: exit 1, and the error says which role and what to run', async () => {
    database = await createTestDatabase();
    const name = await appRole(database.url, false);
    const { code, output } = await runCli(['migrate', '--database-url', asRole(database.url, name)]);
    expect(code).toBe(1);
    expect(output).toContain(`chronicle-server: Role "${name}" may not set up or migrate Chronicle's tables (permission denied`);
    expect(output).not.toMatch(/at Chronicle schema/);
  });
});

describe('chronicle-server migrate, embedded and misused', () => {
  it('sets up a PGlite data directory', async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), 'chronicle-migrate-')), 'data');
    try {
      const { code, output } = await runCli(['migrate', '--data', dataDir]);
      expect(output).toContain(`PGlite ${dataDir}: at Chronicle schema 5`);
      expect(code).toBe(0);
    } finally {
      await rm(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  it('refuses to run without a database, with two kinds, or with what is not a postgres:// URL, with usage exit code 2', async () => {
    const none = await runCli(['migrate'], { env: { DATABASE_URL: '' } });
    expect(none.code).toBe(2);
    expect(none.output).toContain(
      'migrate needs the database: --database-url <url> (or $DATABASE_URL), --shard-map <file> or --data <dir>',
    );
    const both = await runCli(['migrate', '--data', '/tmp/x', '--database-url', 'postgres://postgres@127.0.0.1:1/none']);
    expect(both.code).toBe(2);
    expect(both.output).toContain('use either --database-url / --shard-map or --data, not both');
    const notUrl = await runCli(['migrate', '--database-url', 'postgres//app:s3cret@db/app']);
    expect(notUrl.code).toBe(2);
    expect(notUrl.output).toContain(
      '--database-url (or $DATABASE_URL) must be a postgres:// (or socket:) URL, and what was given is not one',
    );
    expect(notUrl.output).not.toContain('s3cret');
    const otherScheme = await runCli(['migrate', '--database-url', 'mysql://root@127.0.0.1/app']);
    expect(otherScheme.code).toBe(2);
    // The server command checks it the same way, before it connects or listens.
    const server = await runCli(['--database-url', 'not a url', '--port', '0']);
    expect(server.code).toBe(2);
    expect(server.output).toContain('must be a postgres:// (or socket:) URL');
    // node-postgres's socket: form is taken (here it finds no server: exit 1, not a usage error).
    const socket = await runCli(['migrate', '--database-url', 'socket:/nonexistent-dir?db=app']);
    expect(socket.output).not.toContain('must be a postgres://');
    expect(socket.code).toBe(1);
    const unknown = await runCli(['migrate', '--port', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain("migrate: Unknown option '--port'");
    expect(unknown.output).toContain('it takes --database-url, --shard-map or --data');
    for (const value of ['0', '1.5', 'many']) {
      const writes = await runCli(['--database-url', 'postgres://127.0.0.1:1/x', '--pg-writes-in-flight', value, '--port', '0']);
      expect(writes.code).toBe(2);
      expect(writes.output).toContain(`--pg-writes-in-flight must be a positive integer, got "${value}"`);
    }
    const typo = await runCli(['migrat', '--data', '/tmp/x']);
    expect(typo.code).toBe(2);
    expect(typo.output).toContain('unknown command "migrat": the commands are migrate, move-log, purge-moved and shard-of');
  });
});
