import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createPostgresStore, createSyncServer, SyncError, type Logger, type LogStore } from '../../src/server/index.ts';
import { RESYNC_READS_IN_FLIGHT } from '../../src/server/live-resync.ts';
import {
  createTestDatabase,
  describePg,
  freshLog,
  httpPush,
  okPush,
  openLive,
  PG_BASE_URL,
  TestClient,
  type LiveClient,
  type TestDatabase,
} from './helpers.ts';

/**
 * The outsider audit's findings on the live channel's resync (after the
 * store's LISTEN connection comes back, every followed log's head is read
 * again, since head moves made through other processes meanwhile were never
 * announced): a failed re-read was dropped (its sockets never heard of the
 * move), every log was read at once, and each failure logged a line of its own.
 */

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown> | undefined;
}

function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void lines.push({ level, message, fields });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

const resyncWarnings = (lines: LogLine[]): LogLine[] => lines.filter((l) => /could not re-read/.test(l.message));

/**
 * A store in front of an in-memory PGlite one, standing in for a process that
 * shares its database: while `deaf`, head moves are not passed on (its LISTEN
 * connection is away, so other processes' pushes go unheard); `resync()` is
 * the LISTEN connection coming back; `failHeads` makes head reads of a log
 * fail so many times (a table locked for a moment, a pool with no free
 * connection in time). It counts head reads in flight.
 */
function intermittentStore(inner: LogStore) {
  const control = {
    deaf: false,
    failHeads: new Map<string, number>(),
    headsInFlight: 0,
    maxHeadsInFlight: 0,
    resync: (): void => {
      throw new Error('nobody watches the store yet');
    },
  };
  const store: LogStore = {
    kind: inner.kind,
    push: (log, push, prepared) => inner.push(log, push, prepared),
    pull: (log, query) => inner.pull(log, query),
    clientSeq: (log, clientId) => inner.clientSeq(log, clientId),
    fence: (log, clientId, epoch) => inner.fence(log, clientId, epoch),
    ping: () => inner.ping(),
    close: () => inner.close(),
    async head(log) {
      control.headsInFlight++;
      control.maxHeadsInFlight = Math.max(control.maxHeadsInFlight, control.headsInFlight);
      try {
        const head = await inner.head(log);
        const failures = control.failHeads.get(log) ?? 0;
        if (failures > 0) {
          control.failHeads.set(log, failures - 1);
          throw new SyncError('UNAVAILABLE', 'injected: the head read waited too long', { reason: 'store-timeout' });
        }
        return head;
      } finally {
        control.headsInFlight--;
      }
    },
    watch(onHead, onResync) {
      control.resync = () => onResync?.();
      return inner.watch((log, head) => {
        if (!control.deaf) onHead(log, head);
      });
    },
  };
  return { store, control };
}

const lastHead = (live: LiveClient): number | undefined => live.messages.at(-1)?.head;

describe('the live channel after a resync', () => {
  let inner: LogStore;
  beforeAll(async () => {
    inner = await createPgliteStore();
  });
  afterAll(async () => {
    await inner?.close();
  });

  /** A server on the intermittent store, with its log lines captured. */
  const serve = async () => {
    const { store, control } = intermittentStore(inner);
    const { logger, lines } = capturingLogger();
    const server = createSyncServer({ store, logger, closeStore: false, limits: { rateLimit: false } });
    const { url } = await server.listen(0);
    return { url, control, lines, close: () => server.close() };
  };

  it('a head re-read that fails is retried with backoff until the open socket hears the head; one warning per failed pass', async () => {
    const { url, control, lines, close } = await serve();
    const log = freshLog('retry');
    const client = new TestClient('retry');
    try {
      okPush(await httpPush(url, log, client.next(['o1'])));
      const live = await openLive(url, log);
      expect(await live.next()).toMatchObject({ type: 'hello', head: 1 });

      control.deaf = true; // the LISTEN connection is away: this move is pushed "through another process"
      okPush(await httpPush(url, log, client.next(['o1'])));
      control.failHeads.set(log, 2);
      control.deaf = false;
      control.resync();

      // Two passes fail, the third reads 2: the socket hears it.
      await expect.poll(() => lastHead(live)).toBe(2);
      expect(live.messages.map((m) => m.head)).toEqual([1, 2]);
      const warnings = resyncWarnings(lines);
      expect(warnings.map((w) => w.fields)).toEqual([
        expect.objectContaining({ failed: 1, of: 1, pass: 1 }),
        expect.objectContaining({ failed: 1, of: 1, pass: 2 }),
      ]);
      await expect.poll(() => lines.some((l) => /every followed head was re-read/.test(l.message))).toBe(true);
      await live.close();
    } finally {
      await close();
    }
  });

  it('re-reads of many followed logs run a few at a time, every socket hears its head, and failures make one summary line', async () => {
    const { url, control, lines, close } = await serve();
    const logs = Array.from({ length: 200 }, () => freshLog('many'));
    const lives: LiveClient[] = [];
    try {
      for (let i = 0; i < logs.length; i += 20) lives.push(...(await Promise.all(logs.slice(i, i + 20).map((log) => openLive(url, log)))));
      await expect.poll(() => lives.every((live) => lastHead(live) === 0)).toBe(true);

      control.deaf = true;
      const moved = logs.filter((_, i) => i % 10 === 0);
      for (const log of moved) okPush(await httpPush(url, log, new TestClient(`c-${log}`).next(['o1'])));
      for (const log of moved) control.failHeads.set(log, 1);
      control.deaf = false;
      control.maxHeadsInFlight = 0;
      control.resync();

      await expect.poll(() => moved.every((log) => lastHead(lives[logs.indexOf(log)]!) === 1)).toBe(true);
      expect(control.maxHeadsInFlight).toBeGreaterThan(0);
      expect(control.maxHeadsInFlight).toBeLessThanOrEqual(RESYNC_READS_IN_FLIGHT);
      // Logs nobody pushed to were told nothing new.
      expect(lives.filter((live) => lastHead(live) !== 0)).toHaveLength(moved.length);
      expect(resyncWarnings(lines).map((w) => w.fields)).toEqual([expect.objectContaining({ failed: moved.length, of: logs.length })]);
    } finally {
      await Promise.all(lives.map((live) => live.close()));
      await close();
    }
  });

  it('a log whose sockets all closed is no longer retried', async () => {
    const { url, control, lines, close } = await serve();
    const [gone, kept] = [freshLog('gone'), freshLog('kept')];
    try {
      const goneLive = await openLive(url, gone);
      const keptLive = await openLive(url, kept);
      await expect.poll(() => [lastHead(goneLive), lastHead(keptLive)]).toEqual([0, 0]);
      control.deaf = true;
      okPush(await httpPush(url, gone, new TestClient('g').next(['o1'])));
      okPush(await httpPush(url, kept, new TestClient('k').next(['o1'])));
      control.failHeads.set(gone, Number.POSITIVE_INFINITY); // never readable again
      control.failHeads.set(kept, 1);
      control.deaf = false;
      control.resync();

      await expect.poll(() => resyncWarnings(lines).length).toBeGreaterThan(0);
      await goneLive.close();
      await expect.poll(() => lastHead(keptLive)).toBe(1);
      // The retries end: the unreadable log has nobody left to tell.
      await expect.poll(() => lines.some((l) => /every followed head was re-read/.test(l.message))).toBe(true);
      await keptLive.close();
    } finally {
      await close();
    }
  });
});

/**
 * The audit's case on a real database: a server's LISTEN connection is cut
 * and cannot come back at once, another server pushes meanwhile, and the
 * first server's re-read of the head waits out its lock timeout on a table
 * locked by hand. Once the lock is gone, a retry reads the head.
 */
describePg('the resync on PostgreSQL, two servers', () => {
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

  it("a push through B while A's LISTEN is away, A's first re-read failing on a locked table: A's open socket still hears the head", async () => {
    const { logger, lines } = capturingLogger();
    const storeA = await createPostgresStore({ connectionString: `${db.url}?application_name=resync_a`, lockTimeoutMs: 500 });
    const storeB = await createPostgresStore({ connectionString: db.url });
    const a = createSyncServer({ store: storeA, logger, limits: { rateLimit: false } });
    const b = createSyncServer({ store: storeB, logger: capturingLogger().logger, limits: { rateLimit: false } });
    const [urlA, urlB] = [(await a.listen(0)).url, (await b.listen(0)).url];
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    const log = freshLog('pg-resync');
    const client = new TestClient('pg');
    try {
      okPush(await httpPush(urlB, log, client.next(['o1'])));
      const live = await openLive(urlA, log);
      await expect.poll(() => lastHead(live)).toBe(1);

      // A's LISTEN connection is cut and cannot come back yet; B pushes on a pooled connection it holds.
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
      const cut = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'resync_a' AND query ILIKE 'LISTEN%'`,
        [db.name],
      );
      expect(cut.rowCount).toBe(1);
      okPush(await httpPush(urlB, log, client.next(['o1'])));
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE chronicle_logs IN ACCESS EXCLUSIVE MODE');
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);

      // A reconnects, resyncs, and its head read waits out the lock timeout and fails.
      await expect.poll(() => resyncWarnings(lines).length, { timeout: 30_000 }).toBeGreaterThan(0);
      expect(lastHead(live)).toBe(1);
      await locker.query('COMMIT');
      await expect.poll(() => lastHead(live)).toBe(2);
      await live.close();
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});
