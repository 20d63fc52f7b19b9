import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/server/store/postgres.ts';
import { createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import { createTestDatabase, describePg, errorOf, freshLog, httpPush, PG_BASE_URL, TestClient, type TestDatabase } from './helpers.ts';

/**
 * A database that refuses new connections for a while (ALTER DATABASE …
 * ALLOW_CONNECTIONS false, SQLSTATE 55000 at connect time) while the pool
 * must open one: no statement ran, so the push is a 503 the client retries,
 * never a 500, and it succeeds once connections are allowed again.
 */
describePg('a database that refuses new connections', () => {
  let db: TestDatabase;
  let server: SyncServer;
  let url: string;
  const admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });

  beforeAll(async () => {
    db = await createTestDatabase();
    await admin.connect();
    const store = await createPostgresStore({ connectionString: db.url });
    server = createSyncServer({ store, logger: silentLogger, limits: { rateLimit: false } });
    ({ url } = await server.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await server?.close();
    await db?.drop();
  });

  it('a push that needs a new connection meanwhile is 503 UNAVAILABLE (store-unreachable); once allowed again, 200', async () => {
    const log = freshLog('connect-refused');
    const client = new TestClient('device');
    expect((await httpPush(url, log, client.next(['o1']))).status).toBe(200);

    await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    // The pool's open connections go: the next push must open one.
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
    // Let the pool hear its idle connections end and drop them (a wait, not a timing assertion).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = client.next(['o2']);
    const refused = await httpPush(url, log, second);
    expect(refused.status).toBe(503);
    expect(errorOf(refused)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'store-unreachable' } });

    await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
    // The same events again, as a client retries a push it got no answer to.
    const retried = await httpPush(url, log, second);
    expect(retried.status).toBe(200);
  });
});
