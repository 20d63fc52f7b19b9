import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPgliteStore, createPostgresStore, type LogStore } from '../../src/server/index.ts';
import { createTestDatabase, describePg, TestClient, type TestDatabase } from './helpers.ts';

/**
 * The page columns' compression (src/server/store/compression.ts): lz4 where
 * the database has it, set on new databases and on schema-5 databases made
 * before, with what is already stored read back unchanged; PGlite, built
 * without lz4, keeps its default and works the same.
 */

const COLUMNS_SQL = `SELECT c.relname || '.' || a.attname AS column_name, a.attcompression::text AS method
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE (c.relname, a.attname) IN (('chronicle_pages', 'events'), ('chronicle_pages', 'ends'), ('chronicle_ranges', 'ids'))
 ORDER BY 1`;

/** Each page column's method: 'l' lz4, 'p' pglz, '' the database's default (pglz). */
async function columnMethods(query: (sql: string) => Promise<{ column_name: string; method: string }[]>): Promise<Record<string, string>> {
  return Object.fromEntries((await query(COLUMNS_SQL)).map((row) => [row.column_name, row.method]));
}

/** A push of `count` events whose data is large enough (~3 kB each) that every page is compressed. */
function bulkyPush(client: TestClient, count: number) {
  const push = client.next(Array.from({ length: count }, (_, i) => `order-${i % 7}`));
  push.events.forEach((event, i) => (event.data = { note: `line ${i} `.repeat(300) }));
  return push;
}

const open: (LogStore | pg.Client)[] = [];
let database: TestDatabase | undefined;

afterEach(async () => {
  for (const item of open.splice(0)) await (item instanceof pg.Client ? item.end() : item.close()).catch(() => undefined);
  await database?.drop();
  database = undefined;
});

describePg('page compression on PostgreSQL', () => {
  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    open.push(client);
    return client;
  }

  it('a new database compresses pages and ranges with lz4', async () => {
    database = await createTestDatabase();
    const store = await createPostgresStore({ connectionString: database.url, poolSize: 2 });
    open.push(store);
    const sql = await connect(database.url);
    expect(await columnMethods(async (text) => (await sql.query(text)).rows)).toEqual({
      'chronicle_pages.ends': 'l',
      'chronicle_pages.events': 'l',
      'chronicle_ranges.ids': 'l',
    });
    await store.push('orders', bulkyPush(new TestClient('till-1'), 200));
    const pages = await sql.query<{ method: string }>(`SELECT pg_column_compression(events) AS method FROM chronicle_pages`);
    expect(pages.rows.map((row) => row.method)).toEqual(['lz4']);
  });

  it('a schema-5 database made before switches to lz4 at the next start, and its pglz pages read back unchanged', async () => {
    database = await createTestDatabase();
    const first = await createPostgresStore({ connectionString: database.url, poolSize: 2 });
    const sql = await connect(database.url);
    // As the previous release left it: the database's default (pglz) on every page column.
    await sql.query(`ALTER TABLE chronicle_pages ALTER COLUMN events SET COMPRESSION default;
      ALTER TABLE chronicle_pages ALTER COLUMN ends SET COMPRESSION default;
      ALTER TABLE chronicle_ranges ALTER COLUMN ids SET COMPRESSION default`);
    const client = new TestClient('till-1');
    await first.push('orders', bulkyPush(client, 200));
    const before = await first.pull('orders', { after: 0, limit: 1000 });
    await first.close();

    const second = await createPostgresStore({ connectionString: database.url, poolSize: 2 });
    open.push(second);
    expect(Object.values(await columnMethods(async (text) => (await sql.query(text)).rows))).toEqual(['l', 'l', 'l']);
    await second.push('orders', bulkyPush(client, 200));
    const methods = await sql.query<{ method: string }>(
      `SELECT pg_column_compression(events) AS method FROM chronicle_pages ORDER BY first_position`,
    );
    expect(methods.rows.map((row) => row.method)).toEqual(['pglz', 'lz4']);
    const after = await second.pull('orders', { after: 0, limit: 1000 });
    expect(after.eventsJson.slice(0, 200)).toEqual(before.eventsJson);
    expect(after.eventsJson).toHaveLength(400);
    expect(JSON.parse(after.eventsJson[399]!)).toMatchObject({ position: 400, meta: { clientSeq: 400 } });
  });

  it('a server that cannot lock a page table in time starts all the same, and sets the method at a later start', async () => {
    database = await createTestDatabase();
    const first = await createPostgresStore({ connectionString: database.url, poolSize: 2 });
    await first.close();
    const sql = await connect(database.url);
    await sql.query(`ALTER TABLE chronicle_pages ALTER COLUMN events SET COMPRESSION default;
      ALTER TABLE chronicle_pages ALTER COLUMN ends SET COMPRESSION default;
      ALTER TABLE chronicle_ranges ALTER COLUMN ids SET COMPRESSION default`);
    // Another server's long read of chronicle_pages. Writes queue behind a waiting ALTER, so it waits briefly
    // (compression.ts: 200 ms), not for the store's own lock timeout (here a minute: the test would time out).
    const reader = await connect(database.url);
    await reader.query('BEGIN');
    await reader.query('LOCK TABLE chronicle_pages IN ACCESS SHARE MODE');
    const started = Date.now();
    const second = await createPostgresStore({ connectionString: database.url, poolSize: 2, lockTimeoutMs: 60_000 });
    open.push(second);
    expect(Date.now() - started).toBeLessThan(20_000);
    const methods = async () => columnMethods(async (text) => (await sql.query(text)).rows);
    expect(await methods()).toEqual({ 'chronicle_pages.ends': '', 'chronicle_pages.events': '', 'chronicle_ranges.ids': 'l' });
    expect((await second.push('orders', bulkyPush(new TestClient('till-1'), 20))).head).toBe(20);
    await reader.query('COMMIT');
    await second.close();

    const third = await createPostgresStore({ connectionString: database.url, poolSize: 2 });
    open.push(third);
    expect(Object.values(await methods())).toEqual(['l', 'l', 'l']);
  });
});

describe('page compression on PGlite (built without lz4)', () => {
  it('keeps the default method and stores and serves pages', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'chronicle-compression-'));
    try {
      const store = await createPgliteStore({ dataDir });
      await store.push('orders', bulkyPush(new TestClient('till-1'), 200));
      const pulled = await store.pull('orders', { after: 0, limit: 1000 });
      expect(pulled.eventsJson).toHaveLength(200);
      await store.close();
      const db = new PGlite(join(dataDir, 'pgdata'));
      try {
        expect(
          Object.values(await columnMethods(async (text) => (await db.query<{ column_name: string; method: string }>(text)).rows)),
        ).toEqual(['', '', '']);
      } finally {
        await db.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
