import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, createShardedStore, createSyncServer, silentLogger, type LogStore } from '../../src/server/index.ts';
import {
  createTestDatabase,
  describePg,
  freshLog,
  httpJson,
  httpPush,
  okPush,
  openLive,
  PG_BASE_URL,
  sample,
  TestClient,
  type TestDatabase,
} from './helpers.ts';

/**
 * The outsider audit: while a server's LISTEN connection (other processes'
 * head moves) could not come back, its failed reconnects were swallowed:
 * nothing logged or counted, /ready and /metrics said nothing. Now each
 * failed attempt goes to the store's onError (the CLI logs it) and counts in
 * chronicle_db_errors_total, chronicle_live_listen_connected is 0, and /ready
 * stays 200 with `live: "degraded"`.
 */

describePg('a LISTEN connection that cannot come back', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await db?.drop();
  });

  it('each failed reconnect is reported and counted; /ready is 200 with live "degraded" and the gauge 0 until it is back', async () => {
    const errors: string[] = [];
    const storeA = await createPostgresStore({
      connectionString: `${db.url}?application_name=listen_health_a`,
      onError: (error) => errors.push(error.message),
    });
    const storeB = await createPostgresStore({ connectionString: db.url });
    const a = createSyncServer({ store: storeA, logger: silentLogger, limits: { rateLimit: false } });
    const b = createSyncServer({ store: storeB, logger: silentLogger, limits: { rateLimit: false } });
    const [urlA, urlB] = [(await a.listen(0)).url, (await b.listen(0)).url];
    const metricsOfA = async (): Promise<string> => {
      const reply = await fetch(`${urlA}/metrics`);
      return reply.status === 200 ? reply.text() : '';
    };
    const log = freshLog('listen-health');
    const client = new TestClient('health');
    try {
      okPush(await httpPush(urlB, log, client.next(['o1'])));
      const live = await openLive(urlA, log);
      await expect.poll(() => live.messages.at(-1)?.head).toBe(1);
      expect(await httpJson(`${urlA}/ready`)).toMatchObject({ status: 200, body: { status: 'ready', store: 'postgres', live: 'ok' } });
      await expect.poll(async () => sample(await metricsOfA(), 'chronicle_live_listen_connected')).toBe(1);
      expect(sample(await metricsOfA(), 'chronicle_db_errors_total')).toBe(0);

      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
      try {
        const cut = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'listen_health_a' AND query ILIKE 'LISTEN%'`,
          [db.name],
        );
        expect(cut.rowCount).toBe(1);
        // The loss, then one report per failed attempt, each saying which connection and that it keeps trying.
        await expect
          .poll(() => errors.filter((e) => /LISTEN connection could not reconnect \(attempt \d+/.test(e)).length)
          .toBeGreaterThanOrEqual(2);
        // Pushes and pulls still work (a pooled connection): ready, but the live channel is degraded.
        expect(await httpJson(`${urlA}/ready`)).toMatchObject({ status: 200, body: { status: 'ready', live: 'degraded' } });
        const text = await metricsOfA();
        expect(sample(text, 'chronicle_live_listen_connected')).toBe(0);
        expect(sample(text, 'chronicle_db_errors_total')).toBeGreaterThanOrEqual(3);
        okPush(await httpPush(urlB, log, client.next(['o1'])));
      } finally {
        await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      }

      // Back: ready without the detail's warning, gauge 1, and the resync told the socket of B's push.
      await expect.poll(async () => (await httpJson(`${urlA}/ready`)).body).toMatchObject({ live: 'ok' });
      expect(sample(await metricsOfA(), 'chronicle_live_listen_connected')).toBe(1);
      await expect.poll(() => live.messages.at(-1)?.head).toBe(2);
      await live.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});

describe('the LISTEN state of a sharded store', () => {
  it('/ready is degraded while any shard is not listening; a store without LISTEN connections has no live detail', async () => {
    const shard = (listen: { connected: number; total: number } | undefined): LogStore =>
      ({
        kind: 'fake',
        ping: () => Promise.resolve(),
        watch: () => () => undefined,
        close: () => Promise.resolve(),
        stats: () => ({ errors: 0, ...(listen ? { listen } : {}) }),
      }) as unknown as LogStore;
    const readyOf = async (store: LogStore): Promise<unknown> => {
      const server = createSyncServer({ store, logger: silentLogger, closeStore: false, metrics: false });
      try {
        return (await httpJson(`${(await server.listen(0)).url}/ready`)).body;
      } finally {
        await server.close();
      }
    };
    const up = { connected: 1, total: 1 };
    const down = { connected: 0, total: 1 };
    expect(createShardedStore({ shards: { a: shard(up), b: shard(down) } }).stats?.().listen).toEqual({ connected: 1, total: 2 });
    expect(await readyOf(createShardedStore({ shards: { a: shard(up), b: shard(down) } }))).toMatchObject({ live: 'degraded' });
    expect(await readyOf(createShardedStore({ shards: { a: shard(up), b: shard(up) } }))).toMatchObject({ live: 'ok' });
    expect(await readyOf(shard(undefined))).not.toHaveProperty('live');
  });
});
