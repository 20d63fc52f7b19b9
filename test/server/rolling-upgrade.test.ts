import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore, createSyncServer, SCHEMA_VERSION, silentLogger, type LogStore } from '../../src/server/index.ts';
import type { PushRequest, PushResponse } from '../../src/core/protocol.ts';
import { killChildren, startChildServer, type ChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPull,
  httpPush,
  okPush,
  pullAll,
  TestClient,
  type TestDatabase,
} from './helpers.ts';
import { storedEventCount } from './stored-events.ts';

/**
 * Issue 10, point 8: servers of two schema versions on one database.
 *
 * 1. A server whose database was migrated past its schema by a newer server
 *    answers pushes and /ready with 503 UNAVAILABLE saying so (reason
 *    "schema-mismatch"), never 500, and writes nothing by its older rules.
 *    (PostgreSQL only: a PGlite data directory has one server process.)
 * 2. The rolling upgrade of docs/protocol.md, run for real: the previous
 *    release (schema 4, taken from git) serves a PostgreSQL database; the new
 *    release starts beside it and migrates the database to schema 5, which
 *    moves the events into pages and drops chronicle_events. From then on the
 *    old one can serve nothing: its pushes, pulls and /ready answer 503
 *    UNAVAILABLE (reason "schema-mismatch"), never 500, and its clients retry
 *    on the new one; it is drained with SIGTERM. Nothing is lost or doubled.
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** The last commit of schema 4 (events one row each in chronicle_events). */
const PREVIOUS_RELEASE = '8a0c158';

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

  it('the rolling upgrade from the previous release (schema 4): side by side, then the old one refuses with 503 schema-mismatch and is drained', async (context) => {
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
    const tills = [new TestClient('till-1'), new TestClient('till-é😀')];
    /** Positions of every event acknowledged, by id. */
    const acked = new Map<string, number>();
    const pushOk = async (url: string, push: PushRequest) => {
      const reply = okPush(await httpPush(url, log, push));
      for (const p of reply.positions) acked.set(p.id, p.position);
      return reply;
    };
    /** What a server that no longer knows the database's schema answers: 503, never 500, saying why. */
    const schemaRefusal = {
      status: 503,
      code: 'UNAVAILABLE',
      details: { reason: 'schema-mismatch', databaseSchema: SCHEMA_VERSION, serverSchema: 4 },
    };

    // 1. The old release serves the database (and creates it at schema 4); its clients push through it.
    const old: ChildServer = await startChildServer(['--database-url', db.url], { bin: join(dir, 'bin/chronicle-server.mjs') });
    const early: { push: PushRequest; positions: PushResponse['positions'] }[] = [];
    for (let i = 0; i < 6; i++) {
      const till = tills[i % 2]!;
      const push = till.next([`${till.clientId}/a`, `${till.clientId}/b`, `${till.clientId}/注文-${i % 3}`]);
      early.push({ push, positions: (await pushOk(old.url, push)).positions });
    }
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    expect((await admin.query('SELECT version FROM chronicle_schema')).rows).toEqual([{ version: 4 }]);
    // Its pulls and /ready have run (prepared statements in its pool, what it knows of the log).
    const servedByOld = await pullAll(old.url, log);
    expect(servedByOld.map((e) => e.position)).toEqual(servedByOld.map((_, i) => i + 1));
    expect((await httpJson(`${old.url}/ready`)).status).toBe(200);

    // 2. The new release starts beside it and migrates the database to schema 5 (chronicle_events moved and dropped),
    //    while a client keeps pushing to the old one: each push is stored (200) or refused with 503, and then retried
    //    on the new server, until the old one says the schema moved on.
    const starting = startChildServer(['--database-url', db.url]);
    const busy = new TestClient('till-busy');
    const busyReplies: string[] = [];
    const busyLoop = (async () => {
      for (;;) {
        const push = busy.next(['till-busy/a']);
        const reply = await httpPush(old.url, log, push);
        if (reply.status === 200) {
          busyReplies.push('200');
          for (const p of okPush(reply).positions) acked.set(p.id, p.position);
          continue;
        }
        const refused = errorOf(reply);
        const reason = (refused.details as { reason?: string } | undefined)?.reason;
        busyReplies.push(`${reply.status} ${refused.code} ${reason}`);
        if (reply.status !== 503) throw new Error(`the old server answered a push with ${reply.status}: ${JSON.stringify(reply.body)}`);
        await pushOk((await starting).url, push); // retried on the new server
        if (reason === 'schema-mismatch') return;
      }
    })();
    const fresh: ChildServer = await starting;
    await busyLoop;
    expect(busyReplies[0]).toBe('200');
    expect(busyReplies[busyReplies.length - 1]).toBe('503 UNAVAILABLE schema-mismatch');
    for (const reply of busyReplies) expect(reply).toMatch(/^(200|503 UNAVAILABLE .*)$/);
    expect((await admin.query('SELECT version FROM chronicle_schema')).rows).toEqual([{ version: SCHEMA_VERSION }]);
    expect((await admin.query(`SELECT to_regclass('chronicle_events')::text AS t`)).rows).toEqual([{ t: null }]);
    // The new server said it was migrating, and how far (the first window is always logged).
    expect(fresh.output()).toMatch(/migrating the database from schema 4 to 5.*"events":\d+/);

    // 3. The old one refuses, saying why, and writes nothing; its clients retry on the new one.
    for (let round = 0; round < 2; round++) {
      for (const till of tills) {
        const push = till.next([`${till.clientId}/a`, `${till.clientId}/注文-${round}`]);
        const refused = errorOf(await httpPush(old.url, log, push));
        expect(refused, `push of ${till.clientId} to the old server`).toMatchObject(schemaRefusal);
        expect(refused.message).toMatch(/Upgrade this server/);
        await pushOk(fresh.url, push); // the same push, retried on the new server
      }
      const stranger = errorOf(await httpPush(old.url, log, new TestClient(`stranger-${round}`).next(['z'])));
      expect(stranger, 'push of a client the old server never saw').toMatchObject(schemaRefusal);
      for (const query of [{ after: 0 }, { after: 3, limit: 2 }, { after: 0, clientId: 'till-1' }, { after: 1_000_000 }]) {
        expect(errorOf(await httpPull(old.url, log, query)), `pull ${JSON.stringify(query)} from the old server`).toMatchObject(
          schemaRefusal,
        );
      }
      expect(errorOf(await httpPull(old.url, freshLog('never'), { after: 0 })), 'pull of a log never pushed to').toMatchObject(
        schemaRefusal,
      );
      expect(errorOf(await httpJson(`${old.url}/ready`)), '/ready of the old server').toMatchObject(schemaRefusal);
    }
    expect(old.alive()).toBe(true);

    // A push the old server stored, whose reply its client never got, retried on the new one: the same positions.
    for (const { push, positions } of early) {
      expect(okPush(await httpPush(fresh.url, log, push))).toMatchObject({ duplicates: push.events.length, positions });
    }

    // 4. The old release is drained (SIGTERM) and stops; the new one serves alone.
    expect(await old.stop()).toBe(0);
    await pushOk(fresh.url, tills[0]!.next([`${tills[0]!.clientId}/a`]));

    // Nothing lost, nothing doubled, one order for everyone; what the old server served is served unchanged.
    const events = await pullAll(fresh.url, log);
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.id).sort()).toEqual([...acked.keys()].sort());
    for (const e of events) expect(e.position).toBe(acked.get(e.id));
    expect(events.slice(0, servedByOld.length)).toEqual(servedByOld);
    expect(await storedEventCount(admin, log)).toBe(acked.size);
    await admin.end();
    expect(await fresh.stop()).toBe(0);
  }, 120_000);
});
