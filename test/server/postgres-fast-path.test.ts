import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/server/store/postgres.ts';
import type { LogStore } from '../../src/server/store/types.ts';
import { createTestDatabase, describePg, freshLog, TestClient, type TestDatabase } from './helpers.ts';

/**
 * The PostgreSQL store's fast path (docs/protocol.md, reference storage layout):
 * writes to a log chained behind each other, and what happens when one fails.
 * Statements are observed by wrapping pg.Client.prototype.query (every pooled
 * connection is a pg.Client).
 */
interface Seen {
  text: string;
  name?: string;
  code?: string;
}

const seen: Seen[] = [];
let recording = false;
const original = pg.Client.prototype.query;

function record(config: unknown, rest: unknown[]): void {
  const c = config as { text?: unknown; name?: unknown } | string;
  const entry: Seen = typeof c === 'string' ? { text: c } : { text: String(c?.text ?? '') };
  if (typeof c === 'object' && typeof c?.name === 'string') entry.name = c.name;
  seen.push(entry);
  const done = (error: unknown): void => {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') entry.code = code;
  };
  const callback = rest.findIndex((x) => typeof x === 'function');
  if (callback >= 0) {
    const cb = rest[callback] as (error: unknown, result: unknown) => void;
    rest[callback] = (error: unknown, result: unknown) => {
      done(error);
      cb(error, result);
    };
  }
  return undefined;
}

const fastWrites = (): Seen[] => seen.filter((s) => s.name?.startsWith('chronicle_write'));
/** Fast writes sent and not answered yet, and the most there were at once since the last reset. */
const concurrency = { now: 0, most: 0 };
const begins = (): number => seen.filter((s) => s.text === 'BEGIN').length;

describePg('PostgreSQL store: chained fast-path writes', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
      if (recording) record(config, rest);
      const isWrite = recording && String((config as { name?: unknown } | null)?.name ?? '').startsWith('chronicle_write');
      if (isWrite) concurrency.most = Math.max(concurrency.most, ++concurrency.now);
      const result = (original as (...args: unknown[]) => unknown).call(this, config, ...rest);
      if (isWrite && result instanceof Promise) {
        result.then(
          () => concurrency.now--,
          () => concurrency.now--,
        );
      }
      if (recording && rest.every((x) => typeof x !== 'function') && result instanceof Promise) {
        const entry = seen[seen.length - 1]!;
        result.catch((error: unknown) => {
          const code = (error as { code?: unknown } | null)?.code;
          if (typeof code === 'string') entry.code = code;
        });
      }
      return result;
    } as typeof pg.Client.prototype.query;
  });
  afterAll(async () => {
    pg.Client.prototype.query = original;
    await db?.drop();
  });
  beforeEach(() => {
    seen.length = 0;
    concurrency.now = 0;
    concurrency.most = 0;
    recording = true;
  });
  afterEach(() => {
    recording = false;
  });

  it('a new store opening connections while pushes queue: no chained write overtakes the one it follows', async () => {
    // A fresh pool has no connections: the first chained writes wait for new ones, and a later write
    // given a connection first must not run ahead (its check under the lock would fail, 22012).
    const store = await createPostgresStore({ connectionString: db.url, poolSize: 10, maxWritesInFlight: 3 });
    try {
      const log = freshLog('chain');
      await pushFromEightClients(store, log, 'chain');
      expect(fastWrites().length).toBeGreaterThan(0);
      expect(fastWrites().filter((w) => w.code !== undefined)).toEqual([]);
      // Writes were chained: more than one in flight at once, never more than asked for.
      expect(concurrency.most).toBeGreaterThan(1);
      expect(concurrency.most).toBeLessThanOrEqual(3);
      await expectStoredOnce(store, log, 8 * 6 * 1000);
    } finally {
      await store.close();
    }
  });

  it('by default one write per log is in flight, and the pushes that arrive meanwhile go together in the next one', async () => {
    const store = await createPostgresStore({ connectionString: db.url, poolSize: 10 });
    try {
      const log = freshLog('together');
      await pushFromEightClients(store, log, 'together');
      // The same load chains writes when more may be in flight (the test above).
      expect(concurrency.most).toBe(1);
      expect(fastWrites().filter((w) => w.code !== undefined)).toEqual([]);
      // 48 pushes, 8 at a time: they shared writes.
      expect(fastWrites().length).toBeGreaterThan(0);
      expect(fastWrites().length + begins()).toBeLessThan(48);
      await expectStoredOnce(store, log, 8 * 6 * 1000);
    } finally {
      await store.close();
    }
  });

  it('maxWritesInFlight must be a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(createPostgresStore({ connectionString: db.url, maxWritesInFlight: bad })).rejects.toThrow(
        `maxWritesInFlight must be a positive integer, got ${String(bad)}`,
      );
    }
  });

  it('a log another process writes unheard: fast writes fail, every push is still stored once, and the fast path comes back', async () => {
    // Two stores on different NOTIFY channels do not hear each other: each learns of the other's
    // writes only when its fast write finds the log's head moved.
    const a = await createPostgresStore({ connectionString: db.url, poolSize: 4, channel: 'chronicle_heads_a' });
    const b = await createPostgresStore({ connectionString: db.url, poolSize: 4, channel: 'chronicle_heads_b' });
    try {
      const log = freshLog('unheard');
      const ca = new TestClient('unheard-a');
      const cb = new TestClient('unheard-b');
      for (let k = 0; k < 6; k++) {
        await a.push(log, ca.next(['x', 'x']));
        await b.push(log, cb.next(['y', 'y']));
      }
      // Each found the log moved: its rows collided with the other's (23505) or its check under the lock failed (22012).
      expect(fastWrites().some((w) => w.code === '23505' || w.code === '22012')).toBe(true);
      await expectStoredOnce(a, log, 24);

      // b stops. a's next fast write finds the head moved once more; after a short time on the slow path
      // (250 ms after a failure, doubling while failures go on, not the 10 s of a log whose other writer
      // is heard), a writes fast again.
      let pushes = 0;
      let fast = false;
      const started = Date.now();
      while (!fast && Date.now() - started < 20_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen.length = 0;
        await a.push(log, ca.next(['x']));
        pushes++;
        fast = begins() === 0 && fastWrites().length === 1 && fastWrites()[0]!.code === undefined;
      }
      expect(fast).toBe(true);
      await expectStoredOnce(a, log, 24 + pushes);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/**
 * 8 clients pushing 6 pushes of 1,000 events each to `log`, each its next one
 * as soon as the last is answered. A batch holds at most 5 such pushes (5,000
 * events), so with 8 clients some are always left for a write chained behind it.
 */
async function pushFromEightClients(store: LogStore, log: string, prefix: string): Promise<void> {
  const clients = Array.from({ length: 8 }, (_, c) => new TestClient(`${prefix}-${c}`));
  await Promise.all(
    clients.map(async (client, c) => {
      for (let k = 0; k < 6; k++) {
        const aggregates = Array.from({ length: 1000 }, (_, i) => `agg-${c}-${i % 50}`);
        await store.push(log, client.next(aggregates));
      }
    }),
  );
}

/** The log holds `count` events at positions 1..count, each id once, each client's clientSeqs gapless. */
async function expectStoredOnce(store: LogStore, log: string, count: number): Promise<void> {
  const events: { id: string; position: number; meta: { clientId: string; clientSeq: number } }[] = [];
  for (;;) {
    const page = await store.pull(log, { after: events.length, limit: 5000 });
    expect(page.head).toBe(count);
    for (const text of page.eventsJson) events.push(JSON.parse(text) as (typeof events)[number]);
    if (!page.hasMore) break;
  }
  expect(events.map((e) => e.position)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(count);
  const byClient = new Map<string, number[]>();
  for (const e of events) byClient.set(e.meta.clientId, [...(byClient.get(e.meta.clientId) ?? []), e.meta.clientSeq]);
  for (const seqs of byClient.values()) expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
}
