import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/server/store/postgres.ts';
import { createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import type { LogStore } from '../../src/server/store/types.ts';
import { killChildren, startChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPush,
  PG_BASE_URL,
  refusal,
  TestClient,
  type TestDatabase,
} from './helpers.ts';
import { startTcpRelay, type TcpRelay } from './tcp-relay.ts';

/**
 * What an outsider's fault audit found past fault.test.ts: a server asked to
 * stop while its database is silent, a table dropped or renamed by hand, and
 * a LISTEN connection a network dropped without a word.
 */

describePg('recovering from database faults', () => {
  let db: TestDatabase;
  let relay: TcpRelay;

  beforeAll(async () => {
    db = await createTestDatabase();
    const { hostname, port } = new URL(PG_BASE_URL);
    relay = await startTcpRelay({ host: hostname, port: Number(port || 5432) });
  });
  /** An in-process server on the test database, and an admin connection to change the database under it. */
  const serveWithAdmin = async (timeouts: { readyMs?: number } = {}) => {
    const store = await createPostgresStore({ connectionString: db.url });
    const server: SyncServer = createSyncServer({ store, logger: silentLogger, limits: { rateLimit: false }, timeouts });
    const { url } = await server.listen(0, '127.0.0.1');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    return {
      url,
      admin,
      close: async () => {
        await admin.end();
        await server.close();
      },
    };
  };

  afterAll(async () => {
    killChildren();
    await relay?.close();
    await db?.drop();
  });

  it('SIGTERM while the database is silent: exits 0 within the shutdown timeout and the close grace, not minutes later', async () => {
    const server = await startChildServer([
      '--database-url',
      relay.url(db.name),
      // A query sent into the silence holds its connection until the query timeout (20 s), past the shutdown.
      '--pg-statement-timeout',
      '15000',
      '--pg-query-timeout',
      '20000',
      '--store-timeout',
      '1500',
      '--shutdown-timeout',
      '500',
    ]);
    const log = freshLog('sigterm');
    // Pushes to three logs at once: the pool keeps several connections, idle ones among them at the blackhole.
    const before = await Promise.all([1, 2, 3].map((n) => httpPush(server.url, `${log}-${n}`, new TestClient('before').next(['o1']))));
    expect(before.map((reply) => reply.status)).toEqual([200, 200, 200]);
    relay.blackhole();
    try {
      const inFlight = httpPush(server.url, log, new TestClient('during').next(['o2'])).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = performance.now();
      const code = await server.stop();
      const ms = performance.now() - started;
      expect(code).toBe(0);
      // 500 ms for requests in flight, then the pool's and the LISTEN connection's ends, 2 s of grace each
      // (pg-close.ts), and slack for a loaded machine; without the grace, the query's 20 s and then minutes.
      expect(ms).toBeLessThan(500 + 4_000 + 4_500);
      await inFlight;
      expect(server.output()).not.toMatch(/"status":500|internal error/);
    } finally {
      relay.restore();
    }
  }, 30_000);

  it('a table dropped or renamed by hand: 503 schema-damaged naming it, /ready says so, and all is well once it is back', async () => {
    const { url, admin, close } = await serveWithAdmin();
    try {
      const log = freshLog('damaged');
      const client = new TestClient('damaged');
      expect((await httpPush(url, log, client.next(['o1']))).status).toBe(200);
      await admin.query('ALTER TABLE chronicle_event_ids RENAME TO chronicle_event_ids_away');
      const refused = errorOf(await httpPush(url, log, client.next(['o1'])));
      expect(refused).toMatchObject({
        status: 503,
        code: 'UNAVAILABLE',
        details: { reason: 'schema-damaged', missing: ['chronicle_event_ids'] },
      });
      expect(refused.message).toContain('chronicle_event_ids');
      expect(errorOf(await httpJson(`${url}/ready`))).toMatchObject({ status: 503, details: { reason: 'schema-damaged' } });

      await admin.query('ALTER TABLE chronicle_event_ids_away RENAME TO chronicle_event_ids');
      expect((await httpJson(`${url}/ready`)).status).toBe(200);
      // The refused push is sent again, unchanged, as a client does: stored once.
      const retried = client.nextClientSeq - 1;
      expect((await httpPush(url, log, { ...new TestClient('damaged').next(['o1', 'o1']), from: 1, to: retried })).status).toBe(200);
    } finally {
      await close();
    }
  });

  it('a table locked against reads (a LOCK TABLE by hand, an ALTER TABLE): /ready says 503 while pushes would wait, 200 after', async () => {
    const { url, admin, close } = await serveWithAdmin({ readyMs: 500 });
    try {
      expect((await httpJson(`${url}/ready`)).status).toBe(200);
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE chronicle_pages IN ACCESS EXCLUSIVE MODE');
      expect(errorOf(await httpJson(`${url}/ready`))).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      await admin.query('COMMIT');
      await expect.poll(async () => (await httpJson(`${url}/ready`)).status, { timeout: 10_000 }).toBe(200);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await close();
    }
  }, 30_000);

  it('a LISTEN connection gone silent is found by its check and replaced: head moves of other servers arrive again', async () => {
    const listening = await createPostgresStore({
      connectionString: relay.url(db.name),
      notificationCheckMs: 200,
      statementTimeoutMs: 500,
      queryTimeoutMs: 800,
    });
    const writing: LogStore = await createPostgresStore({ connectionString: db.url });
    try {
      const log = freshLog('listen');
      const heads: number[] = [];
      let resyncs = 0;
      const stop = listening.watch(
        (moved, head) => void (moved === log && heads.push(head)),
        () => resyncs++,
      );
      const client = new TestClient('writer');
      await writing.push(log, client.next(['o1']));
      await expect.poll(() => heads.at(-1), { timeout: 5_000 }).toBe(1);

      relay.silence(); // the listener's connection (and the pool's) go quiet; new connections pass
      await writing.push(log, client.next(['o1']));
      await expect.poll(() => resyncs, { timeout: 10_000 }).toBeGreaterThan(0);
      await writing.push(log, client.next(['o1']));
      await expect.poll(() => heads.at(-1), { timeout: 5_000 }).toBe(3);
      stop();
    } finally {
      await writing.close();
      await listening.close();
    }
  }, 30_000);

  it('a store closed while pushes wait answers them 503, never 500', async () => {
    const store = await createPostgresStore({ connectionString: db.url });
    const log = freshLog('closing');
    const pushes = Array.from({ length: 20 }, (_, i) =>
      store.push(log, new TestClient(`c${i}`).next(['o1'])).catch((error: unknown) => error),
    );
    await store.close();
    const outcomes = await Promise.all(pushes);
    const refused = outcomes.filter((outcome) => outcome instanceof Error);
    // Those the pipeline had queued are refused at once, unsent; any other failure is a 503 too, never a 500.
    expect(
      refused.filter((error) => (error as { details?: { reason?: string } }).details?.reason === 'store-closed').length,
    ).toBeGreaterThan(0);
    for (const error of refused) expect(await refusal(Promise.reject(error))).toMatchObject({ code: 'UNAVAILABLE' });
  });
});
