import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { killChildren, startChildServer, type ChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPush,
  PG_BASE_URL,
  sample,
  TestClient,
  type TestDatabase,
} from './helpers.ts';
import { startTcpRelay, type TcpRelay } from './tcp-relay.ts';

/**
 * A new pooled connection whose backend is terminated right after it started,
 * read in one chunk: the connection's ReadyForQuery, then the backend's FATAL
 * (57P01). node-postgres hands the client out on the first message and emits
 * 'error' on it for the second in the same turn, before the code that asked
 * the pool for it runs again; an 'error' with no listener kills the process.
 * fault.test.ts's load met this once in a full CI run (pg_terminate_backend
 * caught a connection opened after the cut, on a loaded machine): the server
 * exited, and its clients found the port closed until they gave up. Here the
 * relay holds the database's replies to the new connection until its backend
 * is terminated, then hands them over in one write.
 */

/**
 * The pool's backends: the test database's, but the admin's own and the
 * LISTEN connection's (its LISTEN, or its check's SELECT 1), which lives
 * outside the pool and reconnects by itself.
 */
const TERMINATE_POOLED = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
  WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
    AND query NOT ILIKE 'LISTEN%' AND query <> 'SELECT 1'`;

/** Whether `bytes` from PostgreSQL end with a ReadyForQuery message ('Z', length 5, a status byte): a connection set up. */
const endsReady = (bytes: Buffer): boolean =>
  bytes.length >= 6 && bytes[bytes.length - 6] === 0x5a && bytes.readInt32BE(bytes.length - 5) === 5;

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting until ${what}`);
}

describePg('a pooled connection whose backend is terminated as it starts (ReadyForQuery and FATAL in one read)', () => {
  let db: TestDatabase;
  let relay: TcpRelay;
  let server: ChildServer;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    const { hostname, port } = new URL(PG_BASE_URL);
    relay = await startTcpRelay({ host: hostname, port: Number(port || 5432) });
    // One pooled connection, and bounds far above what the test waits for: the push that opens the held
    // connection waits for it rather than time out first.
    server = await startChildServer([
      '--database-url',
      relay.url(db.name),
      '--pool-size',
      '1',
      '--pg-connect-timeout',
      '30000',
      '--store-timeout',
      '30000',
    ]);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    killChildren();
    await admin?.end();
    await relay?.close();
    await db?.drop();
  });

  it('the server stays up: that push gets 503, the same push again is stored once', async () => {
    const log = freshLog('fatal-after-connect');
    const client = new TestClient('fatal');
    expect((await httpPush(server.url, log, client.next(['o1']))).status).toBe(200);

    // The pool's connection ends (its backend terminated while idle): the pool is empty.
    await admin.query(TERMINATE_POOLED, [db.name]);
    const poolTotal = async () =>
      sample((await httpJson(`${server.url}/metrics`)).body as string, 'chronicle_db_pool_connections{state="total"}');
    await until('the pool has no connection', async () => (await poolTotal()) === 0);

    // The next push opens a new connection, whose replies the relay holds. Once it is set up, its backend is
    // terminated, and the relay hands the client both at once.
    relay.holdReplies();
    const push = client.next(['o1']);
    const pending = httpPush(server.url, log, push).catch((error: unknown) => new Error(String(error)));
    await until('the new connection is set up', () => relay.held().length === 1 && endsReady(relay.held()[0]!.bytes));
    await admin.query(TERMINATE_POOLED, [db.name]);
    await until('its backend has ended it', () => relay.held()[0]!.ended);
    relay.releaseReplies();

    const reply = await pending;
    // With no listener for that 'error', the process is gone and the push has no reply (the output says why).
    if (reply instanceof Error)
      throw new Error(`the push got no reply (${reply.message}); the server wrote:\n${server.output().slice(-2000)}`);
    expect(errorOf(reply)).toMatchObject({ status: 503, code: 'UNAVAILABLE', details: { reason: 'store-unreachable' } });
    // The same push again, as a client sends it: stored, once.
    const again = await httpPush(server.url, log, push);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ head: 2, duplicates: 0 });
    expect(server.alive()).toBe(true);
    expect(server.output()).not.toMatch(/"status":500|internal error/);
    expect(await server.stop()).toBe(0);
  }, 60_000);
});
