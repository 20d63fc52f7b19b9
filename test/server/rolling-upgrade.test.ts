import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore, createSyncServer, SCHEMA_VERSION, silentLogger, type LogStore } from '../../src/server/index.ts';
import { killChildren, startChildServer, type ChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPush,
  okPush,
  pullAll,
  TestClient,
  type TestDatabase,
} from './helpers.ts';

/**
 * Issue 10, point 8: servers of two schema versions on one database.
 *
 * 1. A server whose database was migrated past its schema by a newer server
 *    answers pushes and /ready with 503 UNAVAILABLE saying so (reason
 *    "schema-mismatch"), never 500, and writes nothing by its older rules.
 *    (PostgreSQL only: a PGlite data directory has one server process.)
 * 2. The rolling upgrade of docs/protocol.md, run for real: the previous
 *    release (schema 2, protocol 1, taken from git) serves a PostgreSQL
 *    database; the new release starts beside it and migrates the database to
 *    schema 3; the old one keeps serving, without errors; clients push through
 *    both; the old one is drained with SIGTERM. Nothing is lost or doubled.
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** The last commit before schema 3 and protocol version 2. */
const PREVIOUS_RELEASE = 'a0625b5';

async function schemaMismatchSuite(open: () => Promise<{ store: LogStore; migrateAhead: () => Promise<void>; done: () => Promise<void> }>) {
  const { store, migrateAhead, done } = await open();
  const server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false } });
  const { url } = await server.listen(0);
  try {
    const log = freshLog('schema');
    const client = new TestClient('s');
    okPush(await httpPush(url, log, client.next(['a'])));
    okPush(await httpPush(url, log, client.next(['a']))); // the fast path knows this log now
    expect((await httpJson(`${url}/ready`)).status).toBe(200);

    await migrateAhead(); // a newer server migrated the database

    for (const push of [client.next(['a']), new TestClient('other').next(['b'])]) {
      const refused = errorOf(await httpPush(url, log, push));
      expect(refused).toMatchObject({
        status: 503,
        code: 'UNAVAILABLE',
        details: { reason: 'schema-mismatch', databaseSchema: SCHEMA_VERSION + 1, serverSchema: SCHEMA_VERSION },
      });
      expect(refused.message).toMatch(/Upgrade this server/);
    }
    expect(errorOf(await httpJson(`${url}/ready`))).toMatchObject({ status: 503, details: { reason: 'schema-mismatch' } });
    expect(await store.head(log)).toBe(2); // nothing written by the older rules
  } finally {
    await server.close();
    await done();
  }
}

describePg('schema versions on PostgreSQL', () => {
  let db: TestDatabase;
  let dir: string | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    killChildren();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pushes and /ready get 503 schema-mismatch, nothing is written', async () => {
    const scratch = await createTestDatabase();
    try {
      await schemaMismatchSuite(async () => {
        const store = await createPostgresStore({ connectionString: scratch.url, poolSize: 3 });
        return {
          store,
          migrateAhead: async () => {
            const admin = new pg.Client({ connectionString: scratch.url });
            await admin.connect();
            await admin.query(`UPDATE chronicle_schema SET version = ${SCHEMA_VERSION + 1}`);
            await admin.end();
          },
          done: () => store.close(),
        };
      });
    } finally {
      await scratch.drop();
    }
  });

  it('the rolling upgrade from the previous release (schema 2): old and new side by side, then the old one drained', async (context) => {
    // The previous release, as deployed: its own source tree, from git.
    dir = await mkdtemp(join(tmpdir(), 'chronicle-previous-'));
    try {
      await run('sh', ['-c', `git -C "${ROOT}" archive ${PREVIOUS_RELEASE} src bin package.json | tar -x -C "${dir}"`]);
    } catch (error) {
      console.warn(`[chronicle] SKIPPED the rolling upgrade: cannot take ${PREVIOUS_RELEASE} from git (${(error as Error).message})`);
      context.skip();
      return;
    }
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const log = freshLog('upgrade');
    const oldClient = new TestClient('old-app'); // clients of the previous release speak protocol 1
    const newClient = new TestClient('new-app');
    const acked: string[] = [];
    const pushOk = async (url: string, push: ReturnType<TestClient['next']>) => {
      okPush(await httpPush(url, log, push));
      acked.push(...push.events.map((e) => e.id));
    };
    const v1 = (push: ReturnType<TestClient['next']>) => ({ ...push, protocolVersion: 1 as const });

    // 1. The old release serves the database (and creates it at schema 2).
    const old: ChildServer = await startChildServer(['--database-url', db.url], { bin: join(dir, 'bin/chronicle-server.mjs') });
    for (let i = 0; i < 5; i++) await pushOk(old.url, v1(oldClient.next(['a', 'b'])));
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    expect((await admin.query('SELECT version FROM chronicle_schema')).rows).toEqual([{ version: 2 }]);

    // 2. The new release starts beside it and migrates the database; the old one keeps serving.
    const fresh: ChildServer = await startChildServer(['--database-url', db.url]);
    expect((await admin.query('SELECT version FROM chronicle_schema')).rows).toEqual([{ version: SCHEMA_VERSION }]);
    for (let i = 0; i < 5; i++) {
      await pushOk(old.url, v1(oldClient.next(['a', 'b'])));
      await pushOk(fresh.url, v1(oldClient.next(['a']))); // old clients on the new server
      await pushOk(fresh.url, { ...newClient.next(['c']), epoch: 0 }); // new clients on the new server
    }
    // A new client that reaches the old server is told its protocol is not spoken there (and retries), not a 500.
    expect(errorOf(await httpPush(old.url, log, { ...newClient.next(['c']), epoch: 0 }))).toMatchObject({
      status: 400,
      code: 'UNSUPPORTED_PROTOCOL',
    });
    newClient.nextClientSeq--; // that push was refused: its number is free again
    newClient.seqs.set('c', newClient.seqs.get('c')! - 1);

    // 3. The old release is drained (SIGTERM) and stops; the new one serves alone.
    expect(await old.stop()).toBe(0);
    await pushOk(fresh.url, { ...newClient.next(['c']), epoch: 0 });

    // Nothing lost, nothing doubled, one order for everyone.
    const events = await pullAll(fresh.url, log);
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.id).sort()).toEqual([...acked].sort());
    expect((await admin.query('SELECT count(*)::int AS n FROM chronicle_events WHERE log = $1', [log])).rows[0].n).toBe(acked.length);
    await admin.end();
    expect(await fresh.stop()).toBe(0);
  }, 120_000);
});
