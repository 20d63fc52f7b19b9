import { judgePushes, type JudgeInput, type Judged } from '../push-judge.ts';
import type { LogKnowledge } from './log-knowledge.ts';
import { cachedLogState, readLogState } from './log-state.ts';
import type { OrderedExecutor, SqlDriver, SqlExecutor } from './sql-driver.ts';
import { INSERT_LOG_SQL } from './statements.ts';
import type { PushResult } from './types.ts';
import { sendWrite, type WriteStatement } from './write-statement.ts';

/**
 * The push pipeline's fast path (push-pipeline.ts runs the queues and the
 * slow path): a batch judged against what this process knows of the log and
 * sent as one checked write, which the pipeline then waits for.
 */

/** A push waiting for (or in) a transaction, with the JSON of its events made before it queued. */
export interface Waiting extends JudgeInput {
  /** Date.now() after which the caller no longer waits: the push is dropped from the queue unjudged. */
  deadline: number | undefined;
  resolve: (result: PushResult) => void;
  reject: (error: unknown) => void;
}

/** What a judged batch leaves the log as, if its write succeeds. */
export function after(judged: Judged, writeId: string | null) {
  return { head: judged.head, writeId, marks: judged.marks, epochs: judged.epochs, heads: judged.heads };
}

/** A write sent and not answered yet, with the results it settles when it succeeds. */
export interface Flight {
  batch: Waiting[];
  judged: Judged;
  /** true: written. false: nothing written, the slow path decides. An error: the outcome is unknown. */
  outcome: Promise<boolean | { error: unknown }>;
  /** Settles when the write is on its connection (or failed before it was). */
  sent: Promise<void>;
}

/** What the fast path works with: the pipeline's database, statement and knowledge, and how it answers a batch. */
export interface FastWriteContext {
  driver: SqlDriver;
  ordered: OrderedExecutor;
  statement: WriteStatement;
  knowledge: LogKnowledge;
  /** Settles the batch's promises with the judged results (and reports the head move). */
  settle(log: string, batch: readonly Waiting[], results: Judged['results']): void;
}

/** Reads the batch's state using what is known of the log; forgets that knowledge when it proved stale. */
export async function readKnowing(knowledge: LogKnowledge, db: SqlExecutor, log: string, batch: readonly Waiting[], readIds: boolean) {
  const known = knowledge.get(log);
  const state = await readLogState(db, log, batch, known, readIds);
  if (known && (known.head !== state.head || known.writeId !== state.writeId)) knowledge.forget(log);
  return state;
}

/**
 * Judges the batch against what this process knows of the log (or against
 * one snapshot read), then sends a write that takes the log's lock and writes
 * only if the head and write id are still the ones judged against. Under the
 * lock nothing has changed since, so every rule holds exactly as if the read
 * had been made under the lock.
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
 *
 * `answerHeld`: answers the pushes held until this write is sent (see the
 * pipeline's drain); called instead before anything else that waits for the
 * database, and before this batch is answered without a write.
 */
export async function startFastWrite(
  context: FastWriteContext,
  log: string,
  batch: Waiting[],
  behind: boolean,
  answerHeld: () => void,
): Promise<Flight | 'done' | 'wait' | 'locked'> {
  const { driver, ordered, statement, knowledge } = context;
  let state = cachedLogState(knowledge.get(log), batch);
  let verified = false; // read in this attempt: the state is a snapshot of the log
  if (!state) {
    if (behind) return 'wait';
    answerHeld();
    state = await readKnowing(knowledge, driver, log, batch, false);
    verified = true;
    // In a move between databases: the slow path refuses it under the lock.
    if (state.move) return 'locked';
  }
  const judged = judgePushes(state, batch);
  if (judged.needsIds || (judged.rows.length === 0 && !verified)) return behind ? 'wait' : 'locked';
  if (judged.rows.length === 0) {
    if (state.exists) knowledge.remember(log, state.head, state, null);
    answerHeld();
    context.settle(log, batch, judged.results);
    return 'done';
  }
  if (!state.exists) {
    answerHeld();
    await driver.query(INSERT_LOG_SQL, [log]);
  }
  // Behind writes in flight: this one must follow the last of them (read before remember() below moves on).
  const afterTicket = behind ? (knowledge.get(log)?.ticket ?? null) : null;
  if (behind && afterTicket === null) return 'wait';
  const current = knowledge.nextWrite();
  // The log as this write leaves it, if it succeeds: what the next batch is judged against.
  knowledge.remember(log, state.head, after(judged, current.id), current.ticket);
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const outcome = sendWrite(ordered, { statement, log, state, judged, current, afterTicket }, markSent).then(
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
  // A write that failed before it was sent has no more to wait for.
  void outcome.then(markSent);
  return { batch, judged, outcome, sent };
}
