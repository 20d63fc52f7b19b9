import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore, createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import {
  createTestDatabase,
  describePg,
  freshLog,
  httpPull,
  httpPush,
  okPull,
  okPush,
  openLive,
  pullAll,
  TestClient,
  type TestDatabase,
} from './helpers.ts';

/**
 * Two server instances on one PostgreSQL database, each with its own pool and
 * its own LISTEN connection: what several server processes do.
 */
describePg('several servers on one PostgreSQL database', () => {
  let db: TestDatabase;
  let a: { url: string; server: SyncServer };
  let b: { url: string; server: SyncServer };

  const startOne = async (): Promise<{ url: string; server: SyncServer }> => {
    const store = await createPostgresStore({ connectionString: db.url, poolSize: 6 });
    const server = createSyncServer({ store, logger: silentLogger, limits: { rateLimit: false } });
    const { url } = await server.listen(0);
    return { url, server };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // Both start at once: schema set-up is serialised by an advisory lock.
    [a, b] = await Promise.all([startOne(), startOne()]);
  });
  afterAll(async () => {
    await Promise.all([a?.server.close(), b?.server.close()]);
    await db?.drop();
  });

  it('a push on one server reaches a live subscriber of the other (LISTEN/NOTIFY)', async () => {
    const log = freshLog();
    const live = await openLive(b.url, log);
    expect(await live.next()).toMatchObject({ type: 'hello', head: 0 });
    const client = new TestClient('cross');
    okPush(await httpPush(a.url, log, client.next(['x', 'y'])));
    expect(await live.untilHead(2)).toBe(2);
    okPush(await httpPush(a.url, log, client.next(['x'])));
    expect(await live.untilHead(3)).toBe(3);
    await live.close();
  });

  it('after its notification connection is cut, a server reconnects and its subscribers still learn the head', async () => {
    const log = freshLog();
    const live = await openLive(b.url, log);
    await live.next();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`,
      );
      expect(killed.rowCount).toBeGreaterThanOrEqual(2); // both servers' listeners
    } finally {
      await admin.end();
    }
    okPush(await httpPush(a.url, log, new TestClient('after-cut').next(['x'])));
    // Either the resync after reconnecting or a later notification reports it.
    expect(await live.untilHead(1)).toBe(1);
    await live.close();
  });

  it('pushes spread over both servers get gapless positions in commit order; pullers on both see one order', async () => {
    const log = freshLog();
    const servers = [a.url, b.url];
    let pushing = true;
    const pushers = Array.from({ length: 6 }, async (_, p) => {
      const client = new TestClient(`multi-${p}`);
      for (let k = 0; k < 25; k++) {
        okPush(await httpPush(servers[(p + k) % 2]!, log, client.next([`agg-${p}`, `agg-${p}-${k % 3}`])));
      }
    });
    const pullers = Array.from({ length: 4 }, async (_, q) => {
      const seen: string[] = [];
      let last = 0;
      for (;;) {
        const done = !pushing;
        const page = okPull(await httpPull(servers[q % 2]!, log, { after: last, limit: 7 + q }));
        for (const e of page.events) {
          expect(e.position).toBe(last + 1);
          last = e.position;
          seen.push(e.id);
        }
        if (done && !page.hasMore) return seen;
      }
    });
    await Promise.all(pushers);
    pushing = false;
    const views = await Promise.all(pullers);
    const all = await pullAll(a.url, log);
    expect(all).toHaveLength(6 * 25 * 2);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    for (const view of views) expect(view).toEqual(all.map((e) => e.id));
  });
});
