import { SyncError } from '../errors.ts';
import { judgePushes, seqKey, type JudgeInput, type Judged, type LogState } from '../push-judge.ts';
import { createLogKnowledge, type LogCache, type WriteTicket } from './log-knowledge.ts';
import { checkSchemaVersion, readSchemaVersion, schemaMismatch, SCHEMA_VERSION } from './schema.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import {
  eventsArray,
  FENCE_SQL,
  INSERT_LOG_SQL,
  LOCK_LOG_SQL,
  num,
  PULL_SQL,
  READ_SQL,
  withPosition,
  writeFailure,
  writeSql,
  type ReadRow,
} from './statements.ts';
import type { FenceResult, HeadListener, LogStore, PullInput, PullPage, PushResult, ResyncListener, StoreStats } from './types.ts';

/**
 * The log store written once in PostgreSQL's SQL, shared by the PGlite and the
 * PostgreSQL stores: they differ only in how statements reach the database
 * (SqlDriver) and in how head moves reach other processes.
 *
 * A push, in short (docs/protocol.md has the rules, push-judge.ts decides):
 * pushes to one log queue in this process and are applied in batches, in
 * arrival order, each push judged alone. The fast path judges a batch against
 * what this process knows of the log (log-knowledge.ts: what it read or wrote
 * last, valid while the log's head and write id are unchanged) and writes it in
 * one statement that locks the log's row and writes only if both still hold; a
 * batch can be sent while the previous one's write is still running (it
 * follows that write or fails). Anything uncertain, and logs that another
 * process writes too, take the slow path: one transaction that locks, reads,
 * judges, writes, commits.
 */

export interface SqlLogStoreOptions {
  kind: string;
  driver: SqlDriver;
  /**
   * When set, every push that moves the head also runs pg_notify(channel, '{"log":..,"head":..,"by":..}')
   * in its transaction; `by` names the store that wrote (see SqlLogStore.writerId).
   */
  notifyChannel?: string;
  /** Turns driver errors (connection lost...) into SyncErrors; others pass through. */
  mapError?: (error: unknown) => unknown;
  /** At most this many events in one push transaction when concurrent pushes to a log are coalesced (default 5000). */
  maxBatchEvents?: number;
  /**
   * How many client marks and aggregate heads per log this process keeps to judge
   * pushes without reading them (default 50,000; the log's head tells whether
   * they still hold).
   */
  maxCachedKeys?: number;
  /** Connection failures the driver saw (counted into stats().errors). */
  connectionErrors?: () => number;
  /** Extra work for close(), after the driver is closed. */
  onClose?: () => Promise<void>;
}

export interface SqlLogStore extends LogStore {
  /** Names this store in its notifications, so that it can tell its own from another process's. */
  readonly writerId: string;
  /**
   * Reports a head move learnt from elsewhere to this store's watchers; `by` is
   * the writerId in the notification (another process's write when it is not
   * this store's).
   */
  emitHead(log: string, head: number, by?: string): void;
  /** Tells watchers that head moves may have been missed. */
  emitResync(): void;
}

/** A push waiting for (or in) a transaction, with the JSON of its events made before it queued. */
interface Waiting extends JudgeInput {
  /** Date.now() after which the caller no longer waits: the push is dropped from the queue unjudged. */
  deadline: number | undefined;
  resolve: (result: PushResult) => void;
  reject: (error: unknown) => void;
}

/** The slow path's write ran into a bounded lock wait: its transaction is rolled back and tried again. */
class Blocked extends Error {}

/** SQLSTATEs of a statement that names a table or column this server's schema has and the database's lacks (or the reverse). */
const SCHEMA_ERRORS = new Set(['42703', '42P01']);

export function createSqlLogStore(options: SqlLogStoreOptions): SqlLogStore {
  const { driver, notifyChannel } = options;
  const mapError = options.mapError ?? ((e: unknown) => e);
  const headListeners = new Set<HeadListener>();
  const resyncListeners = new Set<ResyncListener>();
  let closed = false;
  let storeErrors = 0;
  const WRITE_SQL = writeSql(notifyChannel !== undefined);
  /** Where the fast path's writes go: to the database in the order they are sent (see SqlDriver.queryInOrder). */
  const ordered: SqlExecutor = driver.queryInOrder
    ? { query: (text, params, name) => driver.queryInOrder!(text, params ?? [], name) }
    : driver;
  const knowledge = createLogKnowledge(options.maxCachedKeys);
  const { writerId } = knowledge;

  const emitHead = (log: string, head: number, by?: string): void => {
    if (by !== undefined && by !== writerId) {
      // Another process writes this log: what this one knows of it is stale, and it is shared for a while.
      knowledge.forget(log);
      knowledge.contend(log);
    } else {
      // (The cache runs ahead of this process's writes in flight, so its own notifications never get past it.)
      const cache = knowledge.get(log);
      if (cache && head > cache.head) knowledge.forget(log);
    }
    for (const listener of headListeners) {
      try {
        listener(log, head);
      } catch {
        // A watcher's failure must not fail the push that already committed.
      }
    }
  };
  const emitResync = (): void => {
    knowledge.clear();
    for (const listener of resyncListeners) {
      try {
        listener();
      } catch {
        // ignore
      }
    }
  };

  /**
   * The error a caller gets: driver failures mapped (UNAVAILABLE for a lost
   * database); a statement that names what the database lacks is explained by
   * the schema versions when they differ (a newer server migrated it).
   */
  const explain = async (error: unknown): Promise<unknown> => {
    const mapped = mapError(error);
    if (mapped instanceof SyncError && mapped.code === 'UNAVAILABLE') storeErrors++;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && SCHEMA_ERRORS.has(code)) {
      const stored = await readSchemaVersion(driver).catch(() => undefined);
      if (stored !== undefined && stored !== SCHEMA_VERSION) return schemaMismatch(stored);
    }
    return mapped;
  };

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' });
    try {
      return await fn();
    } catch (error) {
      throw await explain(error);
    }
  };

  /**
   * Reads what a batch needs that `known` (marks and heads as of a head, or
   * nothing) lacks, in one statement. When the head or write id read is not
   * `known`'s, what was known is stale: everything is read again.
   */
  async function readState(
    db: SqlExecutor,
    log: string,
    batch: readonly Waiting[],
    known: LogCache | undefined,
    readIds: boolean,
  ): Promise<LogState> {
    const clientIds = new Set<string>();
    const aggregateIds = new Set<string>();
    const ids: string[] = [];
    const ranges: { c: string; f: number; t: number }[] = [];
    for (const { push } of batch) {
      clientIds.add(push.clientId);
      ranges.push({ c: push.clientId, f: push.from, t: push.to });
      for (const e of push.events) {
        aggregateIds.add(e.aggregateId);
        if (readIds) ids.push(e.id);
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      const useKnown = pass === 0 ? known : undefined;
      const wantClients = useKnown ? [...clientIds].filter((c) => !useKnown.marks.has(c) || !useKnown.epochs.has(c)) : [...clientIds];
      const wantAggregates = useKnown ? [...aggregateIds].filter((a) => !useKnown.heads.has(a)) : [...aggregateIds];
      const rows = await db.query<ReadRow>(READ_SQL, [
        log,
        JSON.stringify(wantClients),
        JSON.stringify(ranges),
        JSON.stringify(ids),
        JSON.stringify(wantAggregates),
      ]);
      const state: LogState = {
        exists: false,
        head: 0,
        writeId: null,
        marks: new Map(),
        epochs: new Map(),
        heads: new Map(),
        bySeq: new Map(),
        byId: new Map(),
        idsRead: readIds,
      };
      for (const row of rows) {
        if (row.k === 'h') {
          state.exists = true;
          state.head = num(row.n);
          state.writeId = row.id;
        } else if (row.k === 'c') {
          state.marks.set(row.a ?? '', num(row.n));
          state.epochs.set(row.a ?? '', num(row.p));
        } else if (row.k === 'd') state.bySeq.set(seqKey(row.a ?? '', num(row.n)), { id: row.id ?? '', position: num(row.p) });
        else if (row.k === 'i') state.byId.set(row.id ?? '', { clientId: row.a ?? '', clientSeq: num(row.n), position: num(row.p) });
        else state.heads.set(row.a ?? '', num(row.n));
      }
      if (useKnown && (useKnown.head !== state.head || useKnown.writeId !== state.writeId)) {
        knowledge.forget(log); // stale: read everything
        continue;
      }
      if (useKnown) {
        for (const c of clientIds) {
          if (!state.marks.has(c) && useKnown.marks.has(c)) state.marks.set(c, useKnown.marks.get(c)!);
          if (!state.epochs.has(c) && useKnown.epochs.has(c)) state.epochs.set(c, useKnown.epochs.get(c)!);
        }
        for (const a of aggregateIds) if (!state.heads.has(a) && useKnown.heads.has(a)) state.heads.set(a, useKnown.heads.get(a)!);
      }
      // What was read as absent is 0; remember it as such so the next batch need not ask again.
      for (const c of clientIds) {
        if (!state.marks.has(c)) state.marks.set(c, 0);
        if (!state.epochs.has(c)) state.epochs.set(c, 0);
      }
      for (const a of aggregateIds) if (!state.heads.has(a)) state.heads.set(a, 0);
      return state;
    }
    throw new Error('unreachable');
  }

  /** The batch's state from what this process knows, when that covers it; undefined when a read is needed. */
  function stateFromCache(log: string, batch: readonly Waiting[]): LogState | undefined {
    const cache = knowledge.get(log);
    if (!cache) return undefined;
    const marks = new Map<string, number>();
    const epochs = new Map<string, number>();
    const heads = new Map<string, number>();
    for (const { push } of batch) {
      const mark = cache.marks.get(push.clientId);
      const epoch = cache.epochs.get(push.clientId);
      // A range at or below the mark needs the stored events: read.
      if (mark === undefined || epoch === undefined || push.from <= mark) return undefined;
      marks.set(push.clientId, mark);
      epochs.set(push.clientId, epoch);
      for (const e of push.events) {
        const head = cache.heads.get(e.aggregateId);
        if (head === undefined) return undefined;
        heads.set(e.aggregateId, head);
      }
    }
    return { exists: true, head: cache.head, writeId: cache.writeId, marks, epochs, heads, bySeq: new Map(), byId: new Map(), idsRead: false };
  }

  /**
   * Runs the write statement: 'written', or how it failed having written
   * nothing (see writeFailure); throws on any other failure.
   */
  async function write(
    db: SqlExecutor,
    log: string,
    state: LogState,
    judged: Judged,
    current: WriteTicket,
    afterTicket: number | null,
  ): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
    const { rows } = judged;
    const ids: string[] = new Array(rows.length);
    const aggregates: string[] = new Array(rows.length);
    const seqs: number[] = new Array(rows.length);
    const clients: string[] = new Array(rows.length);
    const clientSeqs: number[] = new Array(rows.length);
    const events: string[] = new Array(rows.length);
    rows.forEach((r, i) => {
      ids[i] = r.id;
      aggregates[i] = r.aggregateId;
      seqs[i] = r.seq;
      clients[i] = r.clientId;
      clientSeqs[i] = r.clientSeq;
      events[i] = withPosition(r.json, r.position);
    });
    const changed = [...judged.changedClients];
    const params: unknown[] = [
      log,
      state.head,
      JSON.stringify(ids),
      JSON.stringify(aggregates),
      JSON.stringify(seqs),
      JSON.stringify(clients),
      JSON.stringify(clientSeqs),
      eventsArray(events),
      JSON.stringify(changed.map(([clientId]) => clientId)),
      JSON.stringify(changed.map(([, c]) => c.mark)),
      judged.head,
      state.writeId,
      current.id,
      rows.length,
      current.ticket,
      afterTicket,
      JSON.stringify(changed.map(([, c]) => c.epoch)),
    ];
    if (notifyChannel !== undefined) params.push(notifyChannel, JSON.stringify({ log, head: judged.head, by: writerId }));
    let result: { n: string | number; l: string | number }[];
    try {
      result = await db.query(WRITE_SQL, params, notifyChannel === undefined ? 'chronicle_write' : 'chronicle_write_notify');
    } catch (error) {
      const failure = writeFailure(error);
      if (failure) return failure;
      throw error;
    }
    const row = result[0];
    if (num(row?.n) !== rows.length || num(row?.l) !== 1) throw new Error('push wrote an unexpected number of events');
    return 'written';
  }

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

  const fail = async (log: string, batch: readonly Waiting[], error: unknown): Promise<void> => {
    knowledge.forget(log);
    const explained = await explain(error);
    for (const w of batch) w.reject(explained);
  };

  /** What a judged batch leaves the log as, if its write succeeds. */
  const after = (judged: Judged, writeId: string | null) => ({
    head: judged.head,
    writeId,
    marks: judged.marks,
    epochs: judged.epochs,
    heads: judged.heads,
  });

  /** A write sent and not answered yet, with the results it settles when it succeeds. */
  interface Flight {
    batch: Waiting[];
    judged: Judged;
    /** true: written. false: nothing written, the slow path decides. An error: the outcome is unknown. */
    outcome: Promise<boolean | { error: unknown }>;
  }

  /**
   * The fast path: judge the batch against what this process knows of the log
   * (or against one snapshot read), then send a write that takes the log's lock
   * and writes only if the head and write id are still the ones judged against.
   * Under the lock nothing has changed since, so every rule holds exactly as if
   * the read had been made under the lock.
   *
   * `behind`: writes of this process to the log are in flight. The batch is then
   * judged against the log as they will leave it, and its write also requires
   * the last of them to have committed (its write id): a write can only commit
   * after the ones it was judged behind, and only if they did.
   *
   * Returns the flight; 'done' when the batch was settled without a write (a
   * snapshot read showed nothing to store); 'wait' when it must wait until
   * nothing is in flight; 'locked' when the slow path must decide (an id may be
   * stored already, or refusals must be confirmed under the lock).
   */
  async function start(log: string, batch: Waiting[], behind: boolean): Promise<Flight | 'done' | 'wait' | 'locked'> {
    let state = stateFromCache(log, batch);
    let verified = false; // read in this attempt: the state is a snapshot of the log
    if (!state) {
      if (behind) return 'wait';
      state = await readState(driver, log, batch, knowledge.get(log), false);
      verified = true;
    }
    const judged = judgePushes(state, batch);
    if (judged.needsIds || (judged.rows.length === 0 && !verified)) return behind ? 'wait' : 'locked';
    if (judged.rows.length === 0) {
      if (state.exists) knowledge.remember(log, state.head, state, null);
      settle(log, batch, judged.results);
      return 'done';
    }
    if (!state.exists) await driver.query(INSERT_LOG_SQL, [log]);
    // Behind writes in flight: this one must follow the last of them (read before remember() below moves on).
    const afterTicket = behind ? (knowledge.get(log)?.ticket ?? null) : null;
    if (behind && afterTicket === null) return 'wait';
    const current = knowledge.nextWrite();
    // The log as this write leaves it, if it succeeds: what the next batch is judged against.
    knowledge.remember(log, state.head, after(judged, current.id), current.ticket);
    const outcome = write(ordered, log, state, judged, current, afterTicket).then(
      (result): boolean => {
        if (result === 'written') {
          knowledge.succeeded(log);
          return true;
        }
        // Not written (the head moved, a fence, a bounded wait, an id stored already...): the slow path
        // decides, for this batch and, for a while, the log's next ones.
        knowledge.forget(log);
        knowledge.failed(log);
        return false;
      },
      (error: unknown) => {
        knowledge.forget(log);
        return { error };
      },
    );
    return { batch, judged, outcome };
  }

  /**
   * The slow path, as docs/protocol.md describes a push: one transaction that
   * locks the log's row, then reads everything the batch needs (ids included),
   * judges, writes and commits.
   */
  async function pushLocked(log: string, batch: readonly Waiting[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pushLockedOnce(log, batch);
      } catch (error) {
        // A bounded wait ran out (a write judged on a stale state held a row this one needs; it is
        // about to fail): start over, after it had time to.
        if (!(error instanceof Blocked) || attempt >= 20) throw error instanceof Blocked ? new Error('push kept waiting for locks') : error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** attempt) * Math.random()));
      }
    }
  }

  /** Locks the log's row in `tx`, creating it first for a new log; returns the head under the lock. */
  async function lockLog(tx: SqlExecutor, log: string): Promise<number> {
    let locked = await tx.query<{ head: string | number }>(LOCK_LOG_SQL, [log]);
    if (locked.length === 0) {
      await tx.query(INSERT_LOG_SQL, [log]);
      locked = await tx.query<{ head: string | number }>(LOCK_LOG_SQL, [log]);
    }
    return num(locked[0]?.head);
  }

  async function pushLockedOnce(log: string, batch: readonly Waiting[]): Promise<void> {
    const current = knowledge.nextWrite();
    const { judged, state } = await driver.transaction(async (tx) => {
      // 1. One writer per log: lock the log's row (created on the first push).
      const lockedHead = await lockLog(tx, log);
      // A newer server may have migrated the database: refuse rather than write by older rules.
      await checkSchemaVersion(tx);
      // 2. Read under the lock (a new statement, hence a fresh snapshot).
      const state = await readState(tx, log, batch, undefined, true);
      if (state.head !== lockedHead) throw new Error('the log head moved while its row was locked');
      const judged = judgePushes(state, batch);
      if (judged.rows.length > 0) {
        const result = await write(tx, log, state, judged, current, null);
        if (result === 'blocked') throw new Blocked();
        if (result !== 'written') throw new Error(`the write under the log's lock failed (${result})`);
      }
      return { judged, state };
    });
    if (judged.rows.length > 0) knowledge.remember(log, state.head, after(judged, current.id), current.ticket);
    else knowledge.remember(log, state.head, state, null);
    settle(log, batch, judged.results);
  }

  /** Per log: pushes waiting for a batch. */
  const queues = new Map<string, Waiting[]>();
  /** Per log: wakes a drain that waits for pushes while its writes are in flight. */
  const arrivals = new Map<string, () => void>();
  const maxBatchEvents = options.maxBatchEvents ?? 5000;
  /**
   * Writes to one log in flight at once: each after the first was judged behind
   * the one before it and waits for it (see writeSql). 3 kept two cores busy
   * best on the bench; more only adds writes that wait.
   */
  const MAX_FLIGHTS = 3;

  /** The next batch of the queue; pushes whose callers stopped waiting are refused, not judged. */
  const takeBatch = (queue: Waiting[]): Waiting[] => {
    const batch: Waiting[] = [];
    let events = 0;
    const now = Date.now();
    while (queue.length > 0 && (batch.length === 0 || events + queue[0]!.push.events.length <= maxBatchEvents)) {
      const next = queue.shift()!;
      if (next.deadline !== undefined && next.deadline <= now) {
        next.reject(new SyncError('UNAVAILABLE', 'The push waited too long for the database', { reason: 'store-timeout' }));
        continue;
      }
      events += next.push.events.length;
      batch.push(next);
    }
    return batch;
  };

  /**
   * Applies the queued pushes of a log, batch by batch in arrival order. A batch
   * is judged and its write sent while the previous batch's write is still
   * running (up to MAX_FLIGHTS), so the database has the next write at hand
   * when the previous one commits; results are settled in order as writes are
   * answered. A write that did not happen sends its batch, and every batch
   * after it, through the slow path once nothing is in flight.
   */
  async function drain(log: string): Promise<void> {
    const queue = queues.get(log)!;
    const flights: Flight[] = [];
    const again: Waiting[][] = [];

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
      if (outcome === true) settle(log, flight.batch, flight.judged.results);
      else if (outcome === false) again.push(flight.batch);
      else await fail(log, flight.batch, outcome.error);
      if (flights.length === 0) for (const batch of again.splice(0)) await decideLocked(batch);
    };

    while (queue.length > 0 || flights.length > 0) {
      if (queue.length === 0 && flights.length > 0 && again.length === 0 && flights.length < MAX_FLIGHTS) {
        // Until the oldest write is answered or a push arrives, whichever comes first.
        const arrived = new Promise<'arrived'>((resolve) => arrivals.set(log, () => resolve('arrived')));
        const first = await Promise.race([flights[0]!.outcome, arrived]);
        arrivals.delete(log);
        if (first === 'arrived') continue;
      }
      const shared = knowledge.isContended(log);
      if (queue.length === 0 || flights.length >= MAX_FLIGHTS || again.length > 0 || (shared && flights.length > 0)) {
        await land();
        continue;
      }
      const batch = takeBatch(queue);
      if (batch.length === 0) continue;
      if (shared) {
        await decideLocked(batch);
        continue;
      }
      let started: Flight | 'done' | 'wait' | 'locked';
      try {
        started = await start(log, batch, flights.length > 0);
      } catch (error) {
        await fail(log, batch, error);
        continue;
      }
      if (started === 'wait') {
        queue.unshift(...batch);
        await land();
      } else if (started === 'locked') {
        await decideLocked(batch);
      } else if (started !== 'done') {
        flights.push(started);
      }
    }
    queues.delete(log);
  }

  const store: SqlLogStore = {
    kind: options.kind,

    push(log, push, prepared) {
      if (closed) return Promise.reject(new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' }));
      // The events' JSON is made here, before the push queues: not while the log is locked.
      const json = prepared?.eventsJson ?? push.events.map((e) => JSON.stringify(e));
      return new Promise<PushResult>((resolve, reject) => {
        const waiting: Waiting = { push, json, deadline: prepared?.deadline, resolve, reject };
        const queue = queues.get(log);
        if (queue) {
          queue.push(waiting);
          arrivals.get(log)?.();
          return;
        }
        queues.set(log, [waiting]);
        void drain(log);
      });
    },

    pull(log, { after: from, limit, clientId }: PullInput) {
      return guard(async () => {
        const rows = await driver.query<{ head: string | number | null; client_seq: string | number | null; event: string | null }>(
          PULL_SQL,
          [log, from, limit, clientId ?? null],
          'chronicle_pull',
        );
        const first = rows[0];
        const head = num(first?.head);
        const eventsJson: string[] = [];
        for (const row of rows) if (row.event !== null) eventsJson.push(row.event);
        // Positions are gapless, so more events exist exactly when the last one read is below the head.
        const last = from + eventsJson.length;
        const page: PullPage = { eventsJson, head, hasMore: last < head };
        if (clientId !== undefined) page.clientSeq = num(first?.client_seq);
        return page;
      });
    },

    fence(log, clientId, epoch): Promise<FenceResult> {
      return guard(async () => {
        const fenceId = `fence:${knowledge.nextWrite().id}`;
        const row = await driver.transaction(async (tx) => {
          await lockLog(tx, log);
          await checkSchemaVersion(tx);
          const rows = await tx.query<{ client_seq: string | number; epoch: string | number }>(FENCE_SQL, [log, clientId, epoch, fenceId]);
          return rows[0];
        });
        // Whatever this process knew of the log is as of the old write id; fast writes judged on it fail their check.
        knowledge.forget(log);
        return { epoch: num(row?.epoch), clientSeq: num(row?.client_seq) };
      });
    },

    head(log) {
      return guard(async () => {
        const rows = await driver.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1', [log]);
        return num(rows[0]?.head);
      });
    },

    clientSeq(log, clientId) {
      return guard(async () => {
        const rows = await driver.query<{ client_seq: string | number }>(
          'SELECT client_seq FROM chronicle_clients WHERE log = $1 AND client_id = $2',
          [log, clientId],
        );
        return num(rows[0]?.client_seq);
      });
    },

    watch(onHead, onResync) {
      headListeners.add(onHead);
      if (onResync) resyncListeners.add(onResync);
      return () => {
        headListeners.delete(onHead);
        if (onResync) resyncListeners.delete(onResync);
      };
    },

    ping() {
      // Reachable, and at this server's schema version (a newer server may have migrated the database).
      return guard(() => checkSchemaVersion(driver));
    },

    stats(): StoreStats {
      const pool = driver.stats?.();
      return { ...(pool ? { pool } : {}), errors: storeErrors + (options.connectionErrors?.() ?? 0) };
    },

    async close() {
      if (closed) return;
      closed = true;
      headListeners.clear();
      resyncListeners.clear();
      knowledge.clear();
      await driver.close();
      await options.onClose?.();
    },

    writerId,
    emitHead,
    emitResync,
  };
  return store;
}
