import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgliteStore,
  createPostgresStore,
  createShardedStore,
  LogMoveError,
  shardForLog,
  type MoveStep,
  type LogStore,
  type ShardedLogStore,
} from '../../src/server/index.ts';
import type { SqlDriver } from '../../src/server/store/sql-driver.ts';
import type { SqlLogStore } from '../../src/server/store/sql-log-store.ts';
import { createTestDatabase, describePg, freshLog, makeEvent, refusal, TestClient } from './helpers.ts';
import { rewriteStoredEvent, storedEventCount, storedEvents } from './stored-events.ts';

/**
 * Moving a log between databases (docs/scale-out.md, "Moving a log"), on
 * sharded stores of two embedded databases, and again of two PostgreSQL
 * databases (the same SQL, another engine): what a move copies, what is
 * served during each step, what is refused, how a failed move is undone and an
 * interrupted one resumed. test/server/log-move-postgres.test.ts runs the move
 * for real: two PostgreSQL databases, two server processes, the CLI, pushes
 * throughout.
 */

const SHARDS = ['a', 'b'] as const;

/** A fresh log name that hashes to `shard`. */
function logOn(shard: string, prefix = 'move'): string {
  for (;;) {
    const log = freshLog(prefix);
    if (shardForLog(log, SHARDS) === shard) return log;
  }
}

const sql = (store: ShardedLogStore, shard: string) => (store.shard(shard) as SqlLogStore).driver;

async function rowOf(store: ShardedLogStore, shard: string, log: string) {
  const rows = await sql(store, shard).query<{ head: number | string; move_state: string | null; move_peer: string | null }>(
    'SELECT head, move_state, move_peer FROM chronicle_logs WHERE log = $1',
    [log],
  );
  const events = await storedEventCount(sql(store, shard), log);
  const clients = await sql(store, shard).query<{ n: number | string }>('SELECT count(*) AS n FROM chronicle_clients WHERE log = $1', [
    log,
  ]);
  const row = rows[0];
  return {
    row: row ? { head: Number(row.head), state: row.move_state, peer: row.move_peer } : null,
    events,
    clients: Number(clients[0]!.n),
  };
}

/** The tables that hold a log's rows besides chronicle_logs (schema 5), and the key each is listed in order of. */
const LOG_TABLES = {
  chronicle_pages: 'first_position',
  chronicle_event_ids: 'id COLLATE "C"',
  chronicle_heads: 'aggregate_id COLLATE "C"',
  chronicle_ranges: 'first_position',
  chronicle_clients: 'client_id COLLATE "C"',
} as const;

/** Every row of the log in each of LOG_TABLES on one side, each row as JSON text, in key order. */
async function tableRows(db: SqlDriver, log: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, key] of Object.entries(LOG_TABLES)) {
    const rows = await db.query<{ r: string }>(`SELECT row_to_json(t)::text AS r FROM ${table} t WHERE log = $1 ORDER BY ${key}`, [log]);
    out[table] = rows.map((row) => row.r);
  }
  return out;
}

/** How many rows of the log LOG_TABLES hold on one side, all told. */
const rowCount = async (db: SqlDriver, log: string): Promise<number> =>
  Object.values(await tableRows(db, log)).reduce((n, rows) => n + rows.length, 0);

/** Copies the log's rows of LOG_TABLES from one side to the other as they are (what a move's copy does, by hand). */
async function copyRowsByHand(from: SqlDriver, to: SqlDriver, log: string): Promise<void> {
  for (const [table, rows] of Object.entries(await tableRows(from, log))) {
    for (const row of rows) await to.query(`INSERT INTO ${table} SELECT * FROM json_populate_record(NULL::${table}, $1::json)`, [row]);
  }
}

/** Pushes `n` events of `client` (3 aggregates), as one push. */
const pushSome = (store: ShardedLogStore, log: string, client: TestClient, n: number) =>
  store.push(log, client.next(Array.from({ length: n }, (_, i) => `${client.clientId}-agg-${i % 3}`)));

/**
 * Starts moving `log` to `to`, 10 events a batch, and holds it once 10 are
 * copied (a crash, as far as the databases can tell). Resolves when it is held:
 * `first` is the run's outcome, which `release()` lets go on.
 */
async function stopMidCopy(store: ShardedLogStore, log: string, to: string): Promise<{ first: Promise<unknown>; release: () => void }> {
  let release!: () => void;
  const hung = new Promise<void>((resolve) => (release = resolve));
  let stopped!: () => void;
  const stoppedAt = new Promise<void>((resolve) => (stopped = resolve));
  const first = store
    .moveLog(log, to, {
      batchEvents: 10,
      onStep: async (step) => {
        if (step.step === 'copying' && step.copied === 10) {
          stopped();
          await hung;
        }
      },
    })
    .catch((e: unknown) => e);
  await stoppedAt;
  return { first, release };
}

/** Every event of a log through the store, and whether positions are 1..head. */
async function everything(store: ShardedLogStore, log: string) {
  const page = await store.pull(log, { after: 0, limit: 5000 });
  const events = page.eventsJson.map((text) => JSON.parse(text) as { id: string; position: number });
  return {
    head: page.head,
    ids: events.map((e) => e.id),
    gapless: events.every((e, i) => e.position === i + 1) && events.length === page.head,
  };
}

/** Two databases of one kind, as the stores of shards a and b, and what removes them after the suite. */
type OpenShards = () => Promise<{ a: LogStore; b: LogStore; drop?: () => Promise<void> }>;

/** The suite on two databases that `open` makes; `describeIt` is describe, or describePg for PostgreSQL. */
const describeMoves = (name: string, open: OpenShards, describeIt: (name: string, body: () => void) => void = describe) =>
  describeIt(`moving a log between two ${name}`, () => {
    let store: ShardedLogStore;
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const shards = await open();
      drop = shards.drop;
      store = createShardedStore({ shards: { a: shards.a, b: shards.b } });
    });
    afterAll(async () => {
      await store?.close();
      await drop?.();
    });

    it('copies every event, client mark and epoch; the source keeps a tombstone; pushes and pulls go on where the log is now', async () => {
      const log = logOn('a');
      const c1 = new TestClient('c1');
      const c2 = new TestClient('c2');
      for (let i = 0; i < 5; i++) {
        await pushSome(store, log, c1, 7);
        await pushSome(store, log, c2, 4);
      }
      await store.fence(log, 'c2', 3);
      const before = await everything(store, log);
      expect(before.head).toBe(55);

      const steps: MoveStep[] = [];
      // Pages of 7 and 4 events (one per push): two whole pages fit in each batch of 11.
      const report = await store.moveLog(log, 'b', { batchEvents: 11, onStep: (s) => void steps.push(s) });
      expect(report).toMatchObject({ log, from: 'a', to: 'b', head: 55, clients: 2, chunks: 1, resumed: false });
      expect(steps.filter((s) => s.step !== 'copying').map((s) => s.step)).toEqual([
        'reserved',
        'frozen',
        'copied',
        'verified',
        'switched',
      ]);
      expect(steps.flatMap((s) => (s.step === 'copying' ? [s.copied] : []))).toEqual([11, 22, 33, 44, 55]);
      expect(steps).toContainEqual({ step: 'copied', events: 55, clients: 2 });

      expect(store.shardOf(log)).toBe('b');
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 55, state: 'moved', peer: 'b' }, events: 55, clients: 2 });
      expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 55, state: null, peer: null }, events: 55, clients: 2 });
      expect(await everything(store, log)).toEqual(before);
      // Every row of the log (pages, ids, heads, ranges, client rows) is the same on both sides, the pages' texts byte for byte.
      const rows = await tableRows(sql(store, 'a'), log);
      expect(Object.values(rows).every((r) => r.length > 0)).toBe(true);
      expect(await tableRows(sql(store, 'b'), log)).toEqual(rows);

      // Marks and epochs came along: a retried push is a duplicate, a stale epoch is refused, positions continue.
      expect(await store.clientSeq(log, 'c1')).toBe(35);
      const stale = await refusal(store.push(log, { ...c2.next(['c2-agg-0']), protocolVersion: 2, epoch: 1 }));
      expect(stale.code).toBe('STALE_EPOCH');
      c2.nextClientSeq--;
      c2.seqs.set('c2-agg-0', (c2.seqs.get('c2-agg-0') ?? 1) - 1);
      const next = await pushSome(store, log, c1, 3);
      expect(next.positions.map((p) => p.position)).toEqual([56, 57, 58]);
      expect(await rowOf(store, 'b', log)).toMatchObject({ row: { head: 58 }, events: 58 });
      expect(await rowOf(store, 'a', log)).toMatchObject({ row: { head: 55, state: 'moved' }, events: 55 });
    });

    it('a store whose map does not know of the move follows the tombstone, for pushes, pulls, heads and fences', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      await pushSome(store, log, client, 5);
      await store.moveLog(log, 'b');
      // Another node: the same shards, no override and nothing learnt.
      const other = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
      expect(other.shardOf(log)).toBe('a');
      expect(await other.head(log)).toBe(5);
      expect(other.shardOf(log)).toBe('b');
      const fresh = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
      expect((await fresh.push(log, client.next(['x']))).head).toBe(6);
      expect(
        (await createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } }).pull(log, { after: 0, limit: 10 })).head,
      ).toBe(6);
      expect((await createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } }).fence(log, 'c', 2)).epoch).toBe(2);
      // The shard stores themselves refuse: the tombstone on a, the log served on b.
      expect((await refusal(store.shard('a').push(log, client.next(['y'])))).details).toMatchObject({ reason: 'log-moved', shard: 'b' });
      expect((await refusal(store.shard('a').pull(log, { after: 0, limit: 1 }))).details).toMatchObject({
        reason: 'log-moved',
        shard: 'b',
      });
    });

    it('while the log is frozen: pushes and fences get 503 log-moving (nothing stored), pulls are served from the source, the target serves nothing', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      for (let i = 0; i < 4; i++) await pushSome(store, log, client, 5);
      const seen: Record<string, unknown> = {};
      await store.moveLog(log, 'b', {
        batchEvents: 5,
        onStep: async (step) => {
          if (step.step !== 'copying' || step.copied !== 10) return;
          const push = await refusal(store.push(log, client.next(['late'])));
          seen.push = { status: push.status, code: push.code, reason: push.details.reason };
          client.nextClientSeq--;
          client.seqs.set('late', 0);
          const fence = await refusal(store.fence(log, 'c', 5));
          seen.fence = fence.details.reason;
          seen.pull = (await store.pull(log, { after: 0, limit: 100 })).eventsJson.length;
          seen.target = (await refusal(store.shard('b').pull(log, { after: 0, limit: 1 }))).details.reason;
          seen.targetPush = (await refusal(store.shard('b').push(log, client.next(['late'])))).details.reason;
          client.nextClientSeq--;
          client.seqs.set('late', 0);
        },
      });
      expect(seen).toEqual({
        push: { status: 503, code: 'UNAVAILABLE', reason: 'log-moving' },
        fence: 'log-moving',
        pull: 20,
        target: 'log-moving',
        targetPush: 'log-moving',
      });
      const after = await everything(store, log);
      expect(after).toMatchObject({ head: 20, gapless: true });
      expect((await store.push(log, client.next(['late']))).positions[0]!.position).toBe(21);
    });

    it('refuses a move to where the log is, to an unknown shard, and onto a database that holds the log: nothing changes', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      await pushSome(store, log, client, 4);
      await expect(store.moveLog(log, 'a')).rejects.toBeInstanceOf(LogMoveError);
      await expect(store.moveLog(log, 'z')).rejects.toThrow(/Unknown shard "z"/);
      // The same log name written straight into b (a node with a wrong map, say).
      await store.shard('b').push(log, new TestClient('stray').next(['s']));
      const error = await store.moveLog(log, 'b').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toMatch(/already holds log/);
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 4, state: null, peer: null }, events: 4, clients: 1 });
      expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 1, state: null, peer: null }, events: 1, clients: 1 });
      expect((await pushSome(store, log, client, 1)).head).toBe(5);
    });

    it('refuses a move of a log the map sends where it never was, while another shard holds it: nothing changes', async () => {
      const log = logOn('a');
      // Written straight into b (a node with a wrong map, or a map edited by hand), never into a.
      await store.shard('b').push(log, new TestClient('stray').next(['s', 't']));
      for (const to of ['a', 'b']) {
        const error = await store.moveLog(log, to).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LogMoveError);
        expect((error as LogMoveError).message).toMatch(/sends log "\S+" to "a", which never held it, but "b" holds its events/);
      }
      expect(await rowOf(store, 'a', log)).toEqual({ row: null, events: 0, clients: 0 });
      expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 2, state: null, peer: null }, events: 2, clients: 1 });
    });

    it('a callback that throws at the "switched" step gets its own error back once: the move is done, not reported as stopped', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      await pushSome(store, log, client, 3);
      const switched: MoveStep[] = [];
      const error = await store
        .moveLog(log, 'b', {
          onStep: (step) => {
            if (step.step !== 'switched') return;
            switched.push(step);
            throw new Error('the dashboard is down');
          },
        })
        .catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(LogMoveError);
      expect((error as Error).message).toBe('the dashboard is down');
      expect(switched).toHaveLength(1);
      expect(await rowOf(store, 'a', log)).toMatchObject({ row: { head: 3, state: 'moved', peer: 'b' } });
      expect(await rowOf(store, 'b', log)).toMatchObject({ row: { head: 3, state: null }, events: 3 });
      expect((await pushSome(store, log, client, 1)).positions[0]!.position).toBe(4);
    });
    it('a copy that does not verify is undone: the source serves writes again, the target points back at it', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      await pushSome(store, log, client, 12);
      const error = await store
        .moveLog(log, 'b', {
          onStep: async (step) => {
            // Corrupt the copy: one event's stored text differs (inside its page, whose ends still fit).
            if (step.step === 'copied') {
              const before = await storedEvents(sql(store, 'b'), log);
              await rewriteStoredEvent(sql(store, 'b'), log, 7, '{"tampered":true}');
              const after = await storedEvents(sql(store, 'b'), log);
              expect(after.map((e) => e.json)).toEqual(before.map((e, i) => (i === 6 ? '{"tampered":true}' : e.json)));
            }
          },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toMatch(/differs from the source at positions 1\.\.10000/);
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 12, state: null, peer: null }, events: 12, clients: 1 });
      expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 0, state: 'moved', peer: 'a' }, events: 0, clients: 0 });
      expect(await rowCount(sql(store, 'b'), log)).toBe(0);
      expect(store.shardOf(log)).toBe('a');
      expect((await pushSome(store, log, client, 2)).head).toBe(14);
      // A node sent to b by a map changed too early finds the log on a.
      const early = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') }, overrides: { [log]: 'b' } });
      expect(await early.head(log)).toBe(14);
      // And the move can be made again.
      expect((await store.moveLog(log, 'b')).head).toBe(14);
    });

    it.each([
      [
        'an event id that points elsewhere',
        'chronicle_event_ids',
        `UPDATE chronicle_event_ids SET position = position + 1 WHERE log = $1 AND position = 3`,
      ],
      ['a missing event id', 'chronicle_event_ids', `DELETE FROM chronicle_event_ids WHERE log = $1 AND position = 12`],
      ['an aggregate head', 'chronicle_heads', `UPDATE chronicle_heads SET head = head + 1 WHERE log = $1 AND aggregate_id = 'c-agg-1'`],
      ['an extra aggregate head', 'chronicle_heads', `INSERT INTO chronicle_heads (log, aggregate_id, head) VALUES ($1, 'zz-extra', 1)`],
      ['the ids of a client range', 'chronicle_ranges', `UPDATE chronicle_ranges SET ids = '[]' WHERE log = $1 AND first_position = 1`],
      ['a client epoch', 'chronicle_clients', `UPDATE chronicle_clients SET epoch = epoch + 1 WHERE log = $1`],
    ])('a copy with %s that differs from the source does not verify, and is undone', async (_, table, tamper) => {
      const log = logOn('a');
      const client = new TestClient('c');
      for (let i = 0; i < 3; i++) await pushSome(store, log, client, 4);
      const error = await store
        .moveLog(log, 'b', { onStep: async (step) => void (step.step === 'copied' && (await sql(store, 'b').query(tamper, [log]))) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toContain(`The copied rows of ${table} of log "${log}" differ from the source`);
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 12, state: null, peer: null }, events: 12, clients: 1 });
      expect(await rowOf(store, 'b', log)).toMatchObject({ row: { head: 0, state: 'moved', peer: 'a' } });
      expect(await rowCount(sql(store, 'b'), log)).toBe(0);
      expect((await store.moveLog(log, 'b')).head).toBe(12);
    });

    it('a log of more than 10,000 events and aggregates is compared chunk by chunk, to its last chunk', async () => {
      /** 12,000 events of one client, each of an aggregate of its own, in pushes (and pages) of 1000. */
      const fill = async (log: string) => {
        const client = new TestClient('c');
        for (let round = 0; round < 12; round++) {
          await store.push(log, client.next(Array.from({ length: 1000 }, (_, i) => `agg-${round}-${i}`)));
        }
      };
      const log = logOn('a');
      await fill(log);
      expect(await store.moveLog(log, 'b')).toMatchObject({ head: 12_000, chunks: 2 });
      expect(await tableRows(sql(store, 'b'), log)).toEqual(await tableRows(sql(store, 'a'), log));
      // A difference past the first 10,000 rows of a table is found too.
      const other = logOn('a');
      await fill(other);
      const error = await store
        .moveLog(other, 'b', {
          onStep: async (step) => {
            if (step.step === 'copied')
              await sql(store, 'b').query(`UPDATE chronicle_heads SET head = 2 WHERE log = $1 AND aggregate_id = 'agg-9-999'`, [other]);
          },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toContain('The copied rows of chronicle_heads');
      expect((error as LogMoveError).details.after).toEqual(expect.any(String));
    });

    it('a source whose positions have a gap is not moved: the move stops at the verification and is undone', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      for (let i = 0; i < 3; i++) await pushSome(store, log, client, 4);
      const error = await store
        .moveLog(log, 'b', {
          onStep: async (step) => {
            // Positions 5..8 go from the source while it is frozen: the copy has the same hole, which only the gap check sees.
            if (step.step === 'frozen')
              await sql(store, 'a').query('DELETE FROM chronicle_pages WHERE log = $1 AND first_position = 5', [log]);
          },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toMatch(/do not hold positions 1\.\.12 one by one: positions are not gapless/);
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 12, state: null, peer: null }, events: 8, clients: 1 });
      expect(await rowCount(sql(store, 'b'), log)).toBe(0);
    });

    it('copies pages whole, in batches bounded by events and by bytes', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      // Four pages of one event of about 100 kB each, then one page of 30 small events.
      for (let i = 0; i < 4; i++) {
        const push = client.next([`big-${i}`]);
        push.events[0]!.data = { text: `${i}`.repeat(100_000) };
        await store.push(log, push);
      }
      await pushSome(store, log, client, 30);
      const copied: number[] = [];
      const onStep = (step: MoveStep) => void (step.step === 'copying' && copied.push(step.copied));
      // Two big pages fit in 250 kB; the page of 30 events goes whole although a batch is 10 events.
      await store.moveLog(log, 'b', { batchEvents: 10, batchBytes: 250_000, onStep });
      expect(copied).toEqual([2, 4, 34]);
      // A page larger than a batch's bytes goes alone.
      copied.length = 0;
      await store.moveLog(log, 'a', { batchBytes: 1000, onStep });
      expect(copied).toEqual([1, 2, 3, 4, 34]);
      expect(await tableRows(sql(store, 'a'), log)).toEqual(await tableRows(sql(store, 'b'), log));
      expect((await storedEvents(sql(store, 'a'), log)).map((e) => e.json)).toEqual(
        (await store.pull(log, { after: 0, limit: 100 })).eventsJson,
      );
    });

    it('a move interrupted after the freeze is finished by running it again, and the interrupted run can no longer change anything', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      for (let i = 0; i < 6; i++) await pushSome(store, log, client, 5);
      // The first run stops in the middle of the copy (a crash, as far as the databases can tell).
      const { first, release } = await stopMidCopy(store, log, 'b');
      expect((await rowOf(store, 'a', log)).row).toMatchObject({ state: 'moving-out', peer: 'b' });
      expect((await rowOf(store, 'b', log)).row).toMatchObject({ state: 'moving-in', peer: 'a' });
      // Another run (another process) resumes it: the copy goes on after the pages the first run copied (positions 1..10).
      const other = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
      const copied: number[] = [];
      const report = await other.moveLog(log, 'b', {
        batchEvents: 10,
        onStep: (step) => void (step.step === 'copying' && copied.push(step.copied)),
      });
      expect(report).toMatchObject({ head: 30, resumed: true });
      expect(copied).toEqual([20, 30]);
      // The first run wakes up: its next step fails, and its undo touches nothing.
      release();
      expect(await first).toBeInstanceOf(LogMoveError);
      expect(await rowOf(store, 'a', log)).toMatchObject({ row: { state: 'moved', peer: 'b' } });
      expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 30, state: null, peer: null }, events: 30, clients: 1 });
      expect(await tableRows(sql(store, 'b'), log)).toEqual(await tableRows(sql(store, 'a'), log));
      expect(await everything(other, log)).toMatchObject({ head: 30, gapless: true });
    });

    it('a move back to the shard the map names, interrupted, is resumed by running it again', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      for (let i = 0; i < 4; i++) await pushSome(store, log, client, 5);
      await store.moveLog(log, 'b'); // away from the map's shard (no override: a's tombstone points to b)
      const { first, release } = await stopMidCopy(store, log, 'a');
      expect((await rowOf(store, 'a', log)).row).toMatchObject({ state: 'moving-in', peer: 'b' });
      // The map sends the log to a, which holds only the half-made copy: another run must find it on b.
      const other = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
      expect(other.shardOf(log)).toBe('a');
      const report = await other.moveLog(log, 'a', { batchEvents: 10 });
      expect(report).toMatchObject({ from: 'b', to: 'a', head: 20, resumed: true });
      release();
      expect(await first).toBeInstanceOf(LogMoveError);
      expect(await rowOf(store, 'b', log)).toMatchObject({ row: { state: 'moved', peer: 'a' } });
      expect(await everything(other, log)).toMatchObject({ head: 20, gapless: true });
    });

    it('a move that stopped after the target was switched on is finished by running it again', async () => {
      const log = logOn('a');
      await pushSome(store, log, new TestClient('c'), 9);
      // Simulate the crash between the two switch transactions: the target serves, the source is still frozen.
      const b = sql(store, 'b');
      const a = sql(store, 'a');
      await a.query(`UPDATE chronicle_logs SET move_state = 'moving-out', move_peer = 'b', write_id = 'move:x' WHERE log = $1`, [log]);
      await copyRowsByHand(a, b, log);
      await b.query(`INSERT INTO chronicle_logs (log, head, write_id) VALUES ($1, 9, 'move:x:in')`, [log]);
      // Pushes reach the target meanwhile (a node that already routes there).
      const direct = await store.shard('b').push(log, { ...new TestClient('d').next(['d1']) });
      expect(direct.head).toBe(10);
      const report = await store.moveLog(log, 'b');
      expect(report).toMatchObject({ head: 9, resumed: true });
      expect(await rowOf(store, 'a', log)).toMatchObject({ row: { state: 'moved', peer: 'b' } });
      expect(await everything(store, log)).toMatchObject({ head: 10, gapless: true });
    });

    it('an empty log moves too (its tombstone keeps writers off the old database)', async () => {
      const log = logOn('a');
      expect(await store.moveLog(log, 'b')).toMatchObject({ head: 0, clients: 0 });
      expect(await rowOf(store, 'a', log)).toMatchObject({ row: { state: 'moved', peer: 'b' } });
      const created = await store.push(log, new TestClient('c').next(['a1', 'a2']));
      expect(created.head).toBe(2);
      expect(await rowOf(store, 'b', log)).toMatchObject({ events: 2 });
    });

    it('purging the source after a move keeps the tombstone, which still sends nodes to the new database', async () => {
      const log = logOn('a');
      const client = new TestClient('c');
      await pushSome(store, log, client, 8);
      await expect(store.purgeMovedLog(log, 'a')).rejects.toBeInstanceOf(LogMoveError);
      await store.moveLog(log, 'b');
      expect(await store.purgeMovedLog(log, 'a')).toEqual({ events: 8, clients: 1 });
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 8, state: 'moved', peer: 'b' }, events: 0, clients: 0 });
      expect(await rowCount(sql(store, 'a'), log)).toBe(0);
      const stale = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
      expect(await everything(stale, log)).toMatchObject({ head: 8, gapless: true });
      // And back again: the tombstone on a is replaced by the log.
      await store.moveLog(log, 'a');
      expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 8, state: null, peer: null }, events: 8, clients: 1 });
      expect(await rowOf(store, 'b', log)).toMatchObject({ row: { state: 'moved', peer: 'a' } });
      expect((await pushSome(store, log, client, 1)).head).toBe(9);
    });

    it('events pushed with ids and data of every kind arrive byte for byte', async () => {
      const log = logOn('a');
      const data = [{ s: 'é ü 𝄞 "quoted" \\ back' }, [1, 2.5, -0, 1e21, null, true], { nested: { deep: [{ x: 'y' }] } }, 'plain', 12];
      const events = data.map((d, i) =>
        makeEvent({ clientId: 'k', clientSeq: i + 1, aggregateId: `k-${i}`, seq: 1, id: `id-${i}-'"\\`, data: d }),
      );
      await store.push(log, { protocolVersion: 2, clientId: 'k', from: 1, to: events.length, events });
      const before = (await store.pull(log, { after: 0, limit: 10 })).eventsJson;
      await store.moveLog(log, 'b');
      expect((await store.pull(log, { after: 0, limit: 10 })).eventsJson).toEqual(before);
      expect((await storedEvents(sql(store, 'b'), log)).map((e) => e.json)).toEqual(before);
    });
  });

describeMoves('embedded databases', async () => ({ a: await createPgliteStore(), b: await createPgliteStore() }));

describeMoves(
  'PostgreSQL databases',
  async () => {
    const dbs = [await createTestDatabase(), await createTestDatabase()] as const;
    const [a, b] = await Promise.all(dbs.map((db) => createPostgresStore({ connectionString: db.url, poolSize: 3 })));
    return { a: a!, b: b!, drop: async () => void (await Promise.all(dbs.map((db) => db.drop()))) };
  },
  describePg,
);
