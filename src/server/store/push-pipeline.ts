import { SyncError } from '../errors.ts';
import { judgePushes, type Judged, type LogState } from '../push-judge.ts';
import { after, startFastWrite, type FastWriteContext, type Flight, type Waiting } from './fast-write.ts';
import type { LogKnowledge, WriteTicket } from './log-knowledge.ts';
import { lockLog, readLogState } from './log-state.ts';
import { moveRefusal } from './move-state.ts';
import { checkSchemaVersion } from './schema.ts';
import type { OrderedExecutor, SqlDriver } from './sql-driver.ts';
import { runWrite, type WriteStatement } from './write-statement.ts';

/**
 * How pushes reach the database: per log, a queue applied in batches, in
 * arrival order. The fast path (fast-write.ts) judges a batch against what
 * this process knows of the log and sends one checked write, up to maxFlights
 * of them chained behind each other; anything uncertain takes the slow path,
 * here, one transaction under the log's lock (docs/protocol.md, "Reference
 * storage layout").
 */

/** The slow path's write ran into a bounded lock wait: its transaction is rolled back and tried again. */
class Blocked extends Error {}

/** Times the slow path starts over after a bounded lock wait before the push gets 503. */
const LOCKED_ATTEMPTS = 20;

/**
 * Writes to one log in flight at once, by default: each after the first is
 * judged behind the one before it and waits for it (see writeSql). With one,
 * the pushes that arrive while a write runs wait and go together in the next
 * write. On the 2-core bench machine (2026-12-06, server-push, alternating):
 * PostgreSQL's CPU per 100,000 events 0.63-0.75 core-seconds with 1 against
 * 0.88-1.02 with 3 (about 112 writes instead of 170 for 200 pushes); 85k
 * events/s on average over 15 rounds against 79k over 9, and 94k against 88k
 * over five runs of the metric each. More in flight overlap the database's
 * index work, which a database server with cores to spare may prefer
 * (maxWritesInFlight).
 */
export const DEFAULT_WRITES_IN_FLIGHT = 1;

export interface PushPipelineOptions {
  driver: SqlDriver;
  /** Where fast writes go: to the database in the order they are sent (SqlDriver.queryInOrder). */
  ordered: OrderedExecutor;
  statement: WriteStatement;
  knowledge: LogKnowledge;
  /** At most this many events in one batch. */
  maxBatchEvents: number;
  /** Writes to one log sent before the one before them is answered, at most (DEFAULT_WRITES_IN_FLIGHT unless the store says). */
  maxFlights: number;
  /** A push committed and moved the log's head. */
  emitHead(log: string, head: number): void;
  /** The error a caller gets for a failure (mapped, explained). */
  explain(error: unknown): Promise<unknown>;
}

/**
 * The next batch of the queue; pushes whose callers stopped waiting are
 * refused, not judged, after `beforeRefusing` (the pushes written before them
 * are answered first).
 */
function takeBatch(queue: Waiting[], maxBatchEvents: number, beforeRefusing: () => void): Waiting[] {
  const batch: Waiting[] = [];
  let events = 0;
  const now = Date.now();
  while (queue.length > 0 && (batch.length === 0 || events + queue[0]!.push.events.length <= maxBatchEvents)) {
    const next = queue.shift()!;
    if (next.deadline !== undefined && next.deadline <= now) {
      beforeRefusing();
      next.reject(new SyncError('UNAVAILABLE', 'The push waited too long for the database', { reason: 'store-timeout' }));
      continue;
    }
    events += next.push.events.length;
    batch.push(next);
  }
  return batch;
}

/**
 * The slow path, as docs/protocol.md describes a push: one transaction that
 * locks the log's row, then reads everything the batch needs (ids included),
 * judges, writes and commits. A bounded lock wait that ran out (a write judged
 * on a stale state held a row this one needs; it is about to fail) starts the
 * transaction over, after it had time to.
 */
async function judgeUnderLock(
  driver: SqlDriver,
  statement: WriteStatement,
  knowledge: LogKnowledge,
  log: string,
  batch: readonly Waiting[],
): Promise<{ judged: Judged; state: LogState; current: WriteTicket }> {
  for (let attempt = 1; ; attempt++) {
    const current = knowledge.nextWrite();
    try {
      const { judged, state } = await driver.transaction(async (tx) => {
        // 1. One writer per log: lock the log's row (created on the first push).
        const locked = await lockLog(tx, log);
        // A newer server may have migrated the database: refuse rather than write by older rules.
        await checkSchemaVersion(tx);
        // A log being moved to another database, or moved away, takes no writes here.
        const refusal = moveRefusal(log, locked.move, true);
        if (refusal) throw refusal;
        // 2. Read under the lock (a new statement, hence a fresh snapshot).
        const state = await readLogState(tx, log, batch, undefined, true);
        if (state.head !== locked.head) throw new Error('the log head moved while its row was locked');
        const judged = judgePushes(state, batch);
        if (judged.rows.length > 0) {
          const result = await runWrite(tx, { statement, log, state, judged, current, afterTicket: null });
          if (result === 'blocked') throw new Blocked();
          if (result !== 'written') throw new Error(`the write under the log's lock failed (${result})`);
        }
        return { judged, state };
      });
      return { judged, state, current };
    } catch (error) {
      if (!(error instanceof Blocked)) throw error;
      // Other writes keep taking the rows this one needs: the database is busy, which the client may retry (503).
      if (attempt >= LOCKED_ATTEMPTS) {
        throw new SyncError('UNAVAILABLE', `The push waited for its log's locks ${LOCKED_ATTEMPTS} times and gave up`, {
          reason: 'store-timeout',
          attempts: LOCKED_ATTEMPTS,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** attempt) * Math.random()));
    }
  }
}

export function createPushPipeline(options: PushPipelineOptions) {
  const { driver, ordered, statement, knowledge, maxBatchEvents, maxFlights, emitHead, explain } = options;

  /** Settles the batch's promises with the judged results; reports the head move. */
  function settle(log: string, batch: readonly Waiting[], results: Judged['results']): void {
    let head = -1;
    results.forEach((result, i) => {
      if (result instanceof SyncError) {
        batch[i]!.reject(result);
      } else {
        if (result.appended > 0) head = Math.max(head, result.head);
        batch[i]!.resolve(result);
      }
    });
    if (head >= 0) emitHead(log, head);
  }

  const fastWrites: FastWriteContext = { driver, ordered, statement, knowledge, settle };

  const fail = async (log: string, batch: readonly Waiting[], error: unknown): Promise<void> => {
    knowledge.forget(log);
    const explained = await explain(error);
    for (const w of batch) w.reject(explained);
  };

  /** The slow path: judged and written under the log's lock (judgeUnderLock), then settled. */
  async function pushLocked(log: string, batch: readonly Waiting[]): Promise<void> {
    const { judged, state, current } = await judgeUnderLock(driver, statement, knowledge, log, batch);
    if (judged.rows.length > 0) knowledge.remember(log, state.head, after(judged, current.id), current.ticket);
    else knowledge.remember(log, state.head, state, null);
    settle(log, batch, judged.results);
  }

  /** Per log: pushes waiting for a batch. */
  const queues = new Map<string, Waiting[]>();
  /** Per log: wakes a drain that waits for pushes while its writes are in flight. */
  const arrivals = new Map<string, () => void>();

  /**
   * Applies the queued pushes of a log, batch by batch in arrival order. With
   * maxFlights above one, a batch is judged and its write sent while the
   * previous batch's write is still running, so the database has the next
   * write at hand when the previous one commits; with one, the pushes that
   * queue meanwhile go together in the next batch. Results are settled in
   * order as writes are answered. A write that did not happen sends its
   * batch, and every batch after it, through the slow path once nothing is in
   * flight.
   *
   * When a write succeeds and pushes are waiting with nothing else in flight,
   * its own pushes are answered only once the next write is on its
   * connection: with one write in flight, the database waits for everything
   * this thread does between two writes, and replying to the pushes (and
   * announcing the head) need not be part of it. The replies wait for the
   * next write to be judged and built, about a millisecond. In server-push,
   * about 3 % more events/s on average (2026-12-06: 30 rounds of each,
   * alternating; the rounds themselves vary by 20 %).
   */
  async function drain(log: string): Promise<void> {
    const queue = queues.get(log)!;
    const flights: Flight[] = [];
    const again: Waiting[][] = [];
    /** Written batches whose pushes are answered once the next write is sent (held: see above). */
    const held: Flight[] = [];
    const answerHeld = (): void => {
      for (const flight of held.splice(0)) settle(log, flight.batch, flight.judged.results);
    };

    const decideLocked = async (batch: Waiting[]): Promise<void> => {
      try {
        await pushLocked(log, batch);
      } catch (error) {
        await fail(log, batch, error);
      }
    };
    const land = async (): Promise<void> => {
      const flight = flights.shift()!;
      const outcome = await flight.outcome;
      if (outcome === true) {
        held.push(flight);
        if (queue.length === 0 || flights.length > 0 || again.length > 0) answerHeld();
      } else if (outcome === false) again.push(flight.batch);
      else await fail(log, flight.batch, outcome.error);
      if (flights.length === 0) for (const batch of again.splice(0)) await decideLocked(batch);
    };

    while (queue.length > 0 || flights.length > 0) {
      if (queue.length === 0 && flights.length > 0 && again.length === 0 && flights.length < maxFlights) {
        // Until the oldest write is answered or a push arrives, whichever comes first.
        const arrived = new Promise<'arrived'>((resolve) => arrivals.set(log, () => resolve('arrived')));
        const first = await Promise.race([flights[0]!.outcome, arrived]);
        arrivals.delete(log);
        if (first === 'arrived') continue;
      }
      const shared = knowledge.isContended(log);
      if (queue.length === 0 || flights.length >= maxFlights || again.length > 0 || (shared && flights.length > 0)) {
        await land();
        continue;
      }
      const batch = takeBatch(queue, maxBatchEvents, answerHeld);
      if (batch.length === 0 || shared) answerHeld();
      if (batch.length === 0) continue;
      if (shared) {
        await decideLocked(batch);
        continue;
      }
      let started: Flight | 'done' | 'wait' | 'locked';
      try {
        started = await startFastWrite(fastWrites, log, batch, flights.length > 0, answerHeld);
      } catch (error) {
        answerHeld();
        await fail(log, batch, error);
        continue;
      }
      // A write on an idle connection is sent within this turn of the event loop; one that waits for a
      // connection (the pool is busy) does not hold the answers any longer than that.
      if (typeof started === 'object' && held.length > 0)
        await Promise.race([started.sent, new Promise((resolve) => setImmediate(resolve))]);
      answerHeld();
      if (started === 'wait') {
        queue.unshift(...batch);
        await land();
      } else if (started === 'locked') {
        await decideLocked(batch);
      } else if (started !== 'done') {
        flights.push(started);
      }
    }
    answerHeld();
    queues.delete(log);
  }

  return {
    /** Queues a push for its log; settles when it is judged (and, if accepted, committed). */
    push(log: string, waiting: Waiting): void {
      const queue = queues.get(log);
      if (queue) {
        queue.push(waiting);
        arrivals.get(log)?.();
        return;
      }
      queues.set(log, [waiting]);
      void drain(log);
    },
    /** The store closes: pushes not sent yet get 503 at once (the client sends them again); writes in flight end as they do. */
    close(): void {
      for (const queue of queues.values()) {
        for (const waiting of queue.splice(0)) {
          waiting.reject(new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' }));
        }
      }
    },
  };
}
