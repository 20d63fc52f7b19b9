import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PushRequest } from '../../src/core/protocol.ts';
import { killChildren, startChildServer, type ChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPush,
  PG_BASE_URL,
  pullAll,
  TestClient,
  type TestDatabase,
} from './helpers.ts';
import { startTcpRelay, type TcpRelay } from './tcp-relay.ts';

/**
 * Issue 10, points 1 and 2, as the "done when" asks: a real server process on
 * PostgreSQL behind a TCP relay of our own, under push load, while the relay
 * cuts, blackholes and restores its database connections and PostgreSQL
 * terminates its backends. The process stays up; /ready and pushes answer 503
 * within their bounds; it recovers by itself; every acknowledged event is
 * stored exactly once.
 */

const READY_MS = 800;
const STORE_MS = 2000;
/** What the bounds may be late by on a loaded two-core machine (event loop, process scheduling). */
const SLACK_MS = 1500;

interface Load {
  /** Events acknowledged with 200, by id. */
  acked: Set<string>;
  /** Replies seen, by status (0: the request failed without a reply). */
  statuses: Map<number, number>;
  /** Resolves once `n` more pushes have been acknowledged. */
  progress(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Clients that push 2 events at a time, as the sync engine does: a push that
 * gets no answer or a 5xx is sent again, unchanged, until it is acknowledged.
 * A push without a reply because the server process is gone fails the load
 * at once, with what the server wrote.
 */
function startLoad(server: ChildServer, log: string, clients: number): Load {
  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  let stopping = false;
  let count = 0;
  let waiters: { target: number; resolve: () => void }[] = [];
  const record = (status: number): void => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  const runs = Array.from({ length: clients }, async (_, i) => {
    const client = new TestClient(`fault-${i}`);
    for (let pushes = 0; pushes < 2000 && !stopping; pushes++) {
      const push: PushRequest = client.next([`a-${i}`, `b-${i}`]);
      // Bounded by time, not attempts: a 503 from a reset connection comes back within milliseconds.
      const giveUpAt = Date.now() + 30_000;
      for (;;) {
        const reply = await httpPush(server.url, log, push).catch(() => ({ status: 0, body: undefined }));
        record(reply.status);
        // No reply because the process died (once in a full CI run, of an 'error' on a pooled connection no
        // listener took: fault-fatal-after-connect.test.ts) fails at once, not after 30 s of refused connections.
        if (reply.status === 0 && !server.alive())
          throw new Error(`the server process is gone; it wrote:\n${server.output().slice(-3000)}`);
        if (reply.status === 200) break;
        if (reply.status !== 503 && reply.status !== 0) throw new Error(`push refused: ${reply.status} ${JSON.stringify(reply.body)}`);
        if (Date.now() > giveUpAt) throw new Error(`a push was never acknowledged (last reply ${reply.status})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const e of push.events) acked.add(e.id);
      count++;
      waiters = waiters.filter((w) => (count >= w.target ? (w.resolve(), false) : true));
    }
  });
  const done = Promise.all(runs);
  return {
    acked,
    statuses,
    progress: (n) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ target: count + n, resolve });
        done.catch(reject);
      }),
    async stop() {
      stopping = true;
      await done;
    },
  };
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work;
  return { value, ms: performance.now() - start };
}

describePg('database faults under push load (a TCP relay in front of PostgreSQL)', () => {
  let db: TestDatabase;
  let relay: TcpRelay;
  let server: ChildServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    const { hostname, port } = new URL(PG_BASE_URL);
    relay = await startTcpRelay({ host: hostname, port: Number(port || 5432) });
    server = await startChildServer([
      '--database-url',
      relay.url(db.name),
      '--pool-size',
      '4',
      // Writes chained behind each other (the default sends one at a time): faults must not break the chain either.
      '--pg-writes-in-flight',
      '3',
      '--pg-connect-timeout',
      '700',
      '--pg-statement-timeout',
      '700',
      '--pg-lock-timeout',
      '500',
      '--pg-query-timeout',
      '1000',
      '--ready-timeout',
      String(READY_MS),
      '--store-timeout',
      String(STORE_MS),
    ]);
  });
  afterAll(async () => {
    killChildren();
    await relay?.close();
    await db?.drop();
  });

  it('cut, terminated backends, blackhole, restore: up all along, 503 within the bounds, recovers, nothing lost or doubled', async () => {
    const log = freshLog('fault');
    const load = startLoad(server, log, 4);
    await load.progress(20);

    // 1. Every database connection reset at once.
    relay.cut();
    await load.progress(20);
    expect(server.alive()).toBe(true);

    // 2. PostgreSQL ends the server's backends (pg_terminate_backend), idle and busy alike.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
    await admin.end();
    await load.progress(20);
    expect(server.alive()).toBe(true);

    // 3. The database stops answering altogether.
    relay.blackhole();
    const ready = await timed(httpJson(`${server.url}/ready`));
    expect(errorOf(ready.value)).toMatchObject({ status: 503, code: 'UNAVAILABLE', details: { reason: 'store-unreachable' } });
    expect(ready.ms).toBeLessThan(READY_MS + SLACK_MS);
    const push = await timed(httpPush(server.url, freshLog('fault-probe'), new TestClient('probe').next(['x'])));
    expect(errorOf(push.value)).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(push.ms).toBeLessThan(STORE_MS + SLACK_MS);
    expect((await httpJson(`${server.url}/health`)).status).toBe(200);
    expect(server.alive()).toBe(true);

    // 4. The network comes back: the server recovers by itself.
    relay.restore();
    let readyAgain = 0;
    for (let attempt = 0; attempt < 100 && readyAgain !== 200; attempt++) {
      readyAgain = (await httpJson(`${server.url}/ready`)).status;
      if (readyAgain !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(readyAgain).toBe(200);
    await load.progress(20);
    await load.stop();

    // Nothing acknowledged is lost, nothing is stored twice, positions and clientSeqs stay gapless.
    const events = await pullAll(server.url, log);
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of load.acked) expect(ids).toContain(id);
    for (let i = 0; i < 4; i++) {
      const seqs = events.filter((e) => e.meta.clientId === `fault-${i}`).map((e) => e.meta.clientSeq);
      expect(seqs).toEqual(seqs.map((_, k) => k + 1));
    }
    // The failures clients saw were 503s (or a connection refused): never a 500.
    expect(load.statuses.get(500) ?? 0).toBe(0);
    expect(load.statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(server.alive()).toBe(true);
    expect(await server.stop()).toBe(0);
  }, 120_000);
});
