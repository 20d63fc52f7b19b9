import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createPostgresStore, type LogStore } from '../../src/server/index.ts';
import { schemaObjectNames, SCHEMA_SQL } from '../../src/server/store/schema.ts';
import { createTestDatabase, describePg, PG_BASE_URL, TestClient, type TestDatabase } from './helpers.ts';

/**
 * A server that runs as a role that may use Chronicle's tables but neither
 * create nor alter them (a deployment's usual split: the owner migrates, the
 * app role reads and writes). PostgreSQL 15 grants no CREATE on `public` to
 * other roles, and `CREATE INDEX IF NOT EXISTS` wants the table's owner even
 * when the index exists, so a start must not ask for either when the tables
 * are there (src/server/store/schema.ts, compression.ts).
 */

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

/** A login role that may read and write the tables that exist in `url`'s database now, and nothing more. */
async function appRole(url: string, grant: boolean): Promise<string> {
  const name = `chronicle_app_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    await sql.query(`CREATE ROLE ${name} LOGIN`);
    role = name;
    if (grant) await sql.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${name}`);
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

it('knows every table and index the schema creates', () => {
  expect(schemaObjectNames()).toEqual([
    'chronicle_schema',
    'chronicle_logs',
    'chronicle_pages',
    'chronicle_event_ids',
    'chronicle_heads',
    'chronicle_ranges',
    'chronicle_ranges_position',
    'chronicle_clients',
  ]);
  expect(SCHEMA_SQL.match(/CREATE /g)).toHaveLength(schemaObjectNames().length);
});

describePg('a server whose role may use the tables but not create or alter them', () => {
  it('starts on a database its owner set up, and stores and serves pushes', async () => {
    database = await createTestDatabase();
    await (await createPostgresStore({ connectionString: database.url, poolSize: 1 })).close();
    const name = await appRole(database.url, true);

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
    database = await createTestDatabase();
    await (await createPostgresStore({ connectionString: database.url, poolSize: 1 })).close();
    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    open.push(owner);
    // As a release before lz4 left them: the owner's next start would switch them, this role may not.
    await owner.query(`ALTER TABLE chronicle_pages ALTER COLUMN events SET COMPRESSION default;
      ALTER TABLE chronicle_pages ALTER COLUMN ends SET COMPRESSION default;
      ALTER TABLE chronicle_ranges ALTER COLUMN ids SET COMPRESSION default`);
    const name = await appRole(database.url, true);

    const store = await createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 2 });
    open.push(store);
    expect((await store.push('orders', new TestClient('till-1').next(['order-1']))).head).toBe(1);
    const methods = await owner.query<{ method: string }>(
      `SELECT attcompression::text AS method FROM pg_attribute WHERE attrelid = 'chronicle_pages'::regclass AND attname IN ('events', 'ends')`,
    );
    expect(methods.rows.map((row) => row.method)).toEqual(['', '']);
  });

  it('refuses to set up an empty database with an error that names the role and what to do', async () => {
    database = await createTestDatabase();
    const name = await appRole(database.url, false);
    const start = createPostgresStore({ connectionString: asRole(database.url, name), poolSize: 1 });
    await expect(start).rejects.toThrow(new RegExp(`Role "${name}" may not set up or migrate Chronicle's tables \\(permission denied`));
    await expect(start).rejects.toThrow(/Start a server once with the role that owns Chronicle's tables/);
  });
});
