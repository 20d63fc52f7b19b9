import { seqKey, type JudgeInput, type LogState } from '../push-judge.ts';
import type { LogCache } from './log-knowledge.ts';
import { toLogMove, type LogMove } from './move-state.ts';
import type { SqlExecutor } from './sql-driver.ts';
import { INSERT_LOG_SQL, LOCK_LOG_SQL, num, READ_SQL, type ReadRow } from './statements.ts';

/**
 * What a batch of pushes is judged against (push-judge.ts, LogState): read
 * from the database in one statement, or taken from what this process knows
 * of the log (log-knowledge.ts) when that covers the batch.
 */

/**
 * Reads what a batch needs that `known` (marks and heads as of a head, or
 * nothing) lacks, in one statement. When the head or write id read is not
 * `known`'s, what was known is stale: everything is read again (the caller
 * should then forget it: the state returned is `known`-free).
 */
export async function readLogState(
  db: SqlExecutor,
  log: string,
  batch: readonly JudgeInput[],
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
        if (row.a !== null) {
          const [moveState, peer] = row.a.split(' ');
          const move = toLogMove(moveState, peer);
          if (move) state.move = move;
        }
      } else if (row.k === 'c') {
        state.marks.set(row.a ?? '', num(row.n));
        state.epochs.set(row.a ?? '', num(row.p));
      } else if (row.k === 'd') state.bySeq.set(seqKey(row.a ?? '', num(row.n)), { id: row.id ?? '', position: num(row.p) });
      else if (row.k === 'i') state.byId.set(row.id ?? '', { clientId: row.a ?? '', clientSeq: num(row.n), position: num(row.p) });
      else state.heads.set(row.a ?? '', num(row.n));
    }
    if (useKnown && (useKnown.head !== state.head || useKnown.writeId !== state.writeId)) {
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
export function cachedLogState(cache: LogCache | undefined, batch: readonly JudgeInput[]): LogState | undefined {
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
  return {
    exists: true,
    head: cache.head,
    writeId: cache.writeId,
    marks,
    epochs,
    heads,
    bySeq: new Map(),
    byId: new Map(),
    idsRead: false,
  };
}

type LockedRow = { head: string | number; move_state: string | null; move_peer: string | null };

/** Locks the log's row in `tx`, creating it first for a new log; returns the head and move state under the lock. */
export async function lockLog(tx: SqlExecutor, log: string): Promise<{ head: number; move: LogMove | undefined }> {
  let locked = await tx.query<LockedRow>(LOCK_LOG_SQL, [log]);
  if (locked.length === 0) {
    await tx.query(INSERT_LOG_SQL, [log]);
    locked = await tx.query<LockedRow>(LOCK_LOG_SQL, [log]);
  }
  const row = locked[0];
  return { head: num(row?.head), move: toLogMove(row?.move_state, row?.move_peer) };
}
