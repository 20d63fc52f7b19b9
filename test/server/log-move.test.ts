import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../src/server/errors.ts';
import {
  createPgliteStore,
  createShardedStore,
  LogMoveError,
  shardForLog,
  type MoveStep,
  type ShardedLogStore,
} from '../../src/server/index.ts';
import type { SqlLogStore } from '../../src/server/store/sql-log-store.ts';
import { freshLog, makeEvent, TestClient } from './helpers.ts';

/**
 * Moving a log between databases (docs/scale-out.md, "Moving a log"), on
 * sharded stores of two embedded databases: what a move copies, what is
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
  const events = await sql(store, shard).query<{ n: number | string }>('SELECT count(*) AS n FROM chronicle_events WHERE log = $1', [log]);
  const clients = await sql(store, shard).query<{ n: number | string }>('SELECT count(*) AS n FROM chronicle_clients WHERE log = $1', [
    log,
  ]);
  const row = rows[0];
  return {
    row: row ? { head: Number(row.head), state: row.move_state, peer: row.move_peer } : null,
    events: Number(events[0]!.n),
    clients: Number(clients[0]!.n),
  };
}

/** What a refused store call throws (a SyncError), or fails when it was served. */
async function refusal(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    return error as SyncError;
  }
  throw new Error('expected a refusal, but it was served');
}

/** Pushes `n` events of `client` (3 aggregates), as one push. */
const pushSome = (store: ShardedLogStore, log: string, client: TestClient, n: number) =>
  store.push(log, client.next(Array.from({ length: n }, (_, i) => `${client.clientId}-agg-${i % 3}`)));

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

describe('moving a log between two embedded databases', () => {
  let store: ShardedLogStore;

  beforeAll(async () => {
    store = createShardedStore({ shards: { a: await createPgliteStore(), b: await createPgliteStore() } });
  });
  afterAll(() => store?.close());

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

    const steps: MoveStep['step'][] = [];
    const report = await store.moveLog(log, 'b', { batchEvents: 10, onStep: (s) => void steps.push(s.step) });
    expect(report).toMatchObject({ log, from: 'a', to: 'b', head: 55, clients: 2, chunks: 1, resumed: false });
    expect(steps.filter((s) => s !== 'copying')).toEqual(['reserved', 'frozen', 'copied', 'verified', 'switched']);
    expect(steps.filter((s) => s === 'copying')).toHaveLength(6);

    expect(store.shardOf(log)).toBe('b');
    expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 55, state: 'moved', peer: 'b' }, events: 55, clients: 2 });
    expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 55, state: null, peer: null }, events: 55, clients: 2 });
    expect(await everything(store, log)).toEqual(before);
    // The events' stored texts are the same bytes on both sides.
    const texts = (shard: string) =>
      sql(store, shard).query<{ t: string }>('SELECT event::text AS t FROM chronicle_events WHERE log = $1 ORDER BY position', [log]);
    expect(await texts('b')).toEqual(await texts('a'));

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
    expect((await refusal(store.shard('a').pull(log, { after: 0, limit: 1 }))).details).toMatchObject({ reason: 'log-moved', shard: 'b' });
  });

  it('while the log is frozen: pushes and fences get 503 log-moving (nothing stored), pulls are served from the source, the target serves nothing', async () => {
    const log = logOn('a');
    const client = new TestClient('c');
    await pushSome(store, log, client, 20);
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

  it('a copy that does not verify is undone: the source serves writes again, the target points back at it', async () => {
    const log = logOn('a');
    const client = new TestClient('c');
    await pushSome(store, log, client, 12);
    const error = await store
      .moveLog(log, 'b', {
        onStep: async (step) => {
          // Corrupt the copy: one event's stored text differs.
          if (step.step === 'copied') {
            await sql(store, 'b').query(`UPDATE chronicle_events SET event = '{"tampered":true}' WHERE log = $1 AND position = 7`, [log]);
          }
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogMoveError);
    expect((error as LogMoveError).message).toMatch(/differs from the source at positions 1\.\.10000/);
    expect(await rowOf(store, 'a', log)).toEqual({ row: { head: 12, state: null, peer: null }, events: 12, clients: 1 });
    expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 0, state: 'moved', peer: 'a' }, events: 0, clients: 0 });
    expect(store.shardOf(log)).toBe('a');
    expect((await pushSome(store, log, client, 2)).head).toBe(14);
    // A node sent to b by a map changed too early finds the log on a.
    const early = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') }, overrides: { [log]: 'b' } });
    expect(await early.head(log)).toBe(14);
    // And the move can be made again.
    expect((await store.moveLog(log, 'b')).head).toBe(14);
  });

  it('a move interrupted after the freeze is finished by running it again, and the interrupted run can no longer change anything', async () => {
    const log = logOn('a');
    const client = new TestClient('c');
    await pushSome(store, log, client, 30);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    let stopped!: () => void;
    const stoppedAt = new Promise<void>((resolve) => (stopped = resolve));
    // The first run stops in the middle of the copy (a crash, as far as the databases can tell).
    const first = store
      .moveLog(log, 'b', {
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
    expect((await rowOf(store, 'a', log)).row).toMatchObject({ state: 'moving-out', peer: 'b' });
    expect((await rowOf(store, 'b', log)).row).toMatchObject({ state: 'moving-in', peer: 'a' });
    // Another run (another process) resumes it.
    const other = createShardedStore({ shards: { a: store.shard('a'), b: store.shard('b') } });
    const report = await other.moveLog(log, 'b');
    expect(report).toMatchObject({ head: 30, resumed: true });
    // The first run wakes up: its next step fails, and its undo touches nothing.
    release();
    expect(await first).toBeInstanceOf(LogMoveError);
    expect(await rowOf(store, 'a', log)).toMatchObject({ row: { state: 'moved', peer: 'b' } });
    expect(await rowOf(store, 'b', log)).toEqual({ row: { head: 30, state: null, peer: null }, events: 30, clients: 1 });
    expect(await everything(other, log)).toMatchObject({ head: 30, gapless: true });
  });

  it('a move that stopped after the target was switched on is finished by running it again', async () => {
    const log = logOn('a');
    await pushSome(store, log, new TestClient('c'), 9);
    // Simulate the crash between the two switch transactions: the target serves, the source is still frozen.
    const b = sql(store, 'b');
    const a = sql(store, 'a');
    await a.query(`UPDATE chronicle_logs SET move_state = 'moving-out', move_peer = 'b', write_id = 'move:x' WHERE log = $1`, [log]);
    const copy = await a.query<{
      position: number;
      id: string;
      aggregate_id: string;
      seq: number;
      client_id: string;
      client_seq: number;
      event: string;
    }>(
      'SELECT position, id, aggregate_id, seq, client_id, client_seq, event::text AS event FROM chronicle_events WHERE log = $1 ORDER BY position',
      [log],
    );
    for (const r of copy) {
      await b.query(
        'INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json)',
        [log, r.position, r.id, r.aggregate_id, r.seq, r.client_id, r.client_seq, r.event],
      );
    }
    await b.query(
      `INSERT INTO chronicle_clients (log, client_id, client_seq, epoch) SELECT log, client_id, client_seq, epoch FROM (VALUES ($1, 'c', 9, 0)) AS v(log, client_id, client_seq, epoch)`,
      [log],
    );
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
  });
});
