import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createPostgresStore, createShardedStore, shardForLog } from '../../src/server/index.ts';
import { LogMoveError, moveLogBetween, type MoveSide } from '../../src/server/store/log-move.ts';
import type { SqlDriver, SqlExecutor } from '../../src/server/store/sql-driver.ts';
import type { SqlLogStore } from '../../src/server/store/sql-log-store.ts';
import { createTestDatabase, describePg, freshLog, TestClient } from './helpers.ts';
import { storedEventCount } from './stored-events.ts';

/**
 * A log move when things go wrong between its steps (found by an outsider's
 * audit of docs/scale-out.md, "Moving a log"): a second run of the same move,
 * a switch whose answer is lost after it committed, a target that stops
 * answering mid-copy. Each must leave exactly one database serving the log,
 * with every acknowledged event.
 */

/** A driver whose transactions and queries fail from `broken()` on, as a database that stopped answering. */
function breakable(inner: SqlDriver, broken: () => boolean): SqlDriver {
  const check = () => {
    if (broken()) throw new Error('Connection terminated unexpectedly');
  };
  return {
    ...inner,
    query: async (text, params, name) => (check(), inner.query(text, params, name)),
    transaction: async (fn) => (check(), inner.transaction(fn)),
  };
}

/** A driver whose transactions that run `matching` SQL commit and then lose their answer. */
function answerLost(inner: SqlDriver, matching: RegExp): SqlDriver {
  return {
    ...inner,
    async transaction(fn) {
      let hit = false;
      const result = await inner.transaction((tx: SqlExecutor) =>
        fn({ query: (text, params, name) => ((hit ||= matching.test(text)), tx.query(text, params, name)) }),
      );
      if (hit) throw new Error('Connection terminated unexpectedly');
      return result;
    },
  };
}

describe('log moves under faults (two embedded databases)', () => {
  let a: SqlLogStore;
  let b: SqlLogStore;
  const side = (name: 'a' | 'b', driver?: SqlDriver): MoveSide => ({ name, driver: driver ?? (name === 'a' ? a : b).driver });
  const rowOf = async (store: SqlLogStore, log: string) =>
    (
      await store.driver.query<{ head: number | string; move_state: string | null; move_peer: string | null }>(
        'SELECT head, move_state, move_peer FROM chronicle_logs WHERE log = $1',
        [log],
      )
    ).map((row) => ({ head: Number(row.head), state: row.move_state, peer: row.move_peer }))[0];
  const pushSome = (store: SqlLogStore, log: string, client: TestClient, n: number) =>
    store.push(log, client.next(Array.from({ length: n }, (_, i) => `${client.clientId}-${i % 3}`)));

  beforeAll(async () => {
    a = (await createPgliteStore()) as SqlLogStore;
    b = (await createPgliteStore()) as SqlLogStore;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it.each([12, 0])(
    'a second run of the move that reaches the target after the first switched it on refuses, and wipes nothing (%i events)',
    async (events) => {
      const log = freshLog('twice');
      if (events > 0) await pushSome(a, log, new TestClient('c'), events);
      // The second run reads both sides, then its first transaction on the target waits...
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held = false;
      const slowTarget: SqlDriver = {
        ...b.driver,
        async transaction(fn) {
          if (!held) {
            held = true;
            await gate;
          }
          return b.driver.transaction(fn);
        },
      };
      const second = moveLogBetween(log, side('a'), side('b', slowTarget)).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // ...while the first run moves the log, and the target takes writes.
      expect(await moveLogBetween(log, side('a'), side('b'))).toMatchObject({ head: events });
      // The target takes writes (an empty log's stays empty: its row is all that says it serves the log).
      const after = events > 0 ? 5 : 0;
      if (after > 0) expect((await pushSome(b, log, new TestClient('after'), after)).head).toBe(events + after);
      release();
      const refused = await second;
      expect(refused).toBeInstanceOf(LogMoveError);
      expect((refused as LogMoveError).message).toMatch(/switched onto "b" meanwhile/);
      expect(await rowOf(b, log)).toEqual({ head: events + after, state: null, peer: null });
      expect(await storedEventCount(b.driver, log)).toBe(events + after);
      expect(await rowOf(a, log)).toMatchObject({ state: 'moved', peer: 'b' });
    },
  );

  it('a switch that committed but whose answer was lost is finished, not undone: one database serves the log', async () => {
    const log = freshLog('lost-answer');
    await pushSome(a, log, new TestClient('c'), 9);
    const target = answerLost(b.driver, /move_state = NULL, move_peer = NULL/);
    const report = await moveLogBetween(log, side('a'), side('b', target));
    expect(report).toMatchObject({ head: 9, from: 'a', to: 'b' });
    expect(await rowOf(a, log)).toMatchObject({ state: 'moved', peer: 'b' });
    expect(await rowOf(b, log)).toEqual({ head: 9, state: null, peer: null });
    expect((await pushSome(b, log, new TestClient('d'), 1)).head).toBe(10);
  });

  it('a target that stops answering mid-copy: the move is undone and the source takes writes again', async () => {
    const log = freshLog('target-down');
    const client = new TestClient('c');
    await pushSome(a, log, client, 30);
    let down = false;
    const error = await moveLogBetween(
      log,
      side('a'),
      side(
        'b',
        breakable(b.driver, () => down),
      ),
      {
        batchEvents: 10,
        onStep: (step) => {
          if (step.step === 'copying' && step.copied >= 10) down = true;
        },
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogMoveError);
    expect((error as LogMoveError).message).toMatch(
      /Connection terminated unexpectedly \(step: copy\); the move was undone: "a" serves the log again/,
    );
    expect((error as LogMoveError).details).toMatchObject({ log, step: 'copy', outcome: 'undone' });
    expect(await rowOf(a, log)).toEqual({ head: 30, state: null, peer: null });
    expect((await pushSome(a, log, client, 1)).head).toBe(31);
    // Once it answers again, the same move goes through (the target's reservation is cleared).
    expect(await moveLogBetween(log, side('a'), side('b'))).toMatchObject({ head: 31 });
    expect(await storedEventCount(b.driver, log)).toBe(31);
  });

  it('a switch sent to a target that then stops answering leaves the source frozen: never two databases taking writes', async () => {
    const log = freshLog('unknown-switch');
    await pushSome(a, log, new TestClient('c'), 6);
    let down = false;
    const target = breakable(answerLost(b.driver, /move_state = NULL, move_peer = NULL/), () => down);
    const flaky: SqlDriver = {
      ...target,
      async transaction(fn) {
        try {
          return await target.transaction(fn);
        } catch (error) {
          if ((error as Error).message.includes('terminated')) down = true; // and it stays silent
          throw error;
        }
      },
    };
    const error = await moveLogBetween(log, side('a'), side('b', flaky)).catch((e: unknown) => e);
    expect((error as LogMoveError).details).toMatchObject({ step: 'switch', outcome: 'frozen' });
    expect(await rowOf(a, log)).toMatchObject({ state: 'moving-out', peer: 'b' });
    // The operator runs it again once b answers: it finds the switch committed and finishes.
    expect(await moveLogBetween(log, side('a'), side('b'))).toMatchObject({ head: 6, resumed: true });
    expect(await rowOf(a, log)).toMatchObject({ state: 'moved', peer: 'b' });
  });
});

describePg('a shard map that names one PostgreSQL database twice', () => {
  it('a move between the two names is refused: an empty log would end as a tombstone pointing at itself', async () => {
    const db = await createTestDatabase();
    const a = await createPostgresStore({ connectionString: db.url });
    const b = await createPostgresStore({ connectionString: `${db.url}?application_name=another_spelling` });
    const store = createShardedStore({ shards: { a, b } });
    try {
      let log = freshLog('twice-named');
      while (shardForLog(log, ['a', 'b']) !== 'a') log = freshLog('twice-named');
      const error = await store.moveLog(log, 'b').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogMoveError);
      expect((error as LogMoveError).message).toMatch(/"a" and "b" are the same database/);
      // Nothing was written: the log takes pushes where the map sends it.
      expect((await store.push(log, new TestClient('c').next(['o1']))).head).toBe(1);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
