import { ConfigError } from '../../core/errors.ts';
import { copyLog, type CopyContext } from './log-move-copy.ts';
import { LogMoveError, refuse } from './log-move-error.ts';
import { verify } from './log-move-verify.ts';
import { CHANGING, LOG_TABLES, wipe } from './log-tables.ts';
import { toLogMove, type LogMove } from './move-state.ts';
import { checkSchemaVersion } from './schema.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import { num } from './statements.ts';

export { LogMoveError } from './log-move-error.ts';

/**
 * Moving one log from one database to another, with no event lost or doubled
 * (docs/scale-out.md, "Moving a log"). Every step is a transaction on one of
 * the two databases, and the log's move state (move-state.ts) says at each
 * moment where it may be read and written:
 *
 * 1. reserve: the target gets the log's row as `moving-in` (anything left of
 *    an earlier attempt is deleted): nobody reads or writes it there.
 * 2. freeze: the source's row becomes `moving-out` under the log's lock, with
 *    a new write id: a write that was judged before it fails its check, every
 *    later push or fence gets 503 "log-moving" (clients retry); pulls go on.
 * 3. copy: the log's rows of every table (schema 5, schema.ts), unchanged:
 *    its pages in position order, then its event ids, aggregate heads, client
 *    ranges, client marks and epochs, each in key order, in batches bounded
 *    by events and bytes, each batch one transaction on the target that first
 *    checks the target still belongs to this move.
 * 4. verify: positions gapless on the source (its pages cover 1..head one by
 *    one), an md5 per 10,000 positions of every column of the pages, and a
 *    count and an md5 per 10,000 rows (in key order) of every other table,
 *    each computed by each database.
 * 5. switch: the target's row takes the head and its move state is cleared
 *    (it serves the log from now on); then the source's row becomes a `moved`
 *    tombstone naming the target, which sharded stores follow.
 *
 * A failure before the switch undoes the move (the target keeps a tombstone
 * pointing back at the source, the source is unfrozen); running the move again
 * after a crash resumes it. A resumed copy keeps the pages, ids and ranges
 * the target holds (rows that no write changes, and a batch is all or
 * nothing, so the target holds whole batches in key order) and continues
 * after the last one; aggregate heads and client rows change with writes, so
 * they are copied again whole. Should what it kept not be the source's after
 * all, the verification says so and the move is undone (which deletes it).
 *
 * This file holds the steps' order and the move states; the tables and the
 * SQL over them are in log-tables.ts, the copy (step 3) in log-move-copy.ts,
 * the checksums (step 4) in log-move-verify.ts.
 */

export interface MoveSide {
  /** The shard's name (stored in the other side's move_peer). */
  name: string;
  driver: SqlDriver;
}

export type MoveStep =
  | { step: 'reserved' }
  | { step: 'frozen'; head: number }
  | { step: 'copying'; copied: number; head: number }
  | { step: 'copied'; events: number; clients: number }
  | { step: 'verified'; chunks: number }
  | { step: 'switched' };

export interface MoveLogOptions {
  /** Events per copy transaction at most (default 5,000), unless one page or range alone holds more (rows go whole). */
  batchEvents?: number;
  /** Bytes of page text (or range ids) per copy transaction at most, unless one row alone holds more (default 8 MiB). */
  batchBytes?: number;
  /**
   * Called after each step, and awaited when it returns a promise (any thenable; its value is ignored); a failure it throws
   * before the switch undoes the move; one it throws at 'switched' (the move is done) is rethrown as it is.
   */
  onStep?: (step: MoveStep) => void | PromiseLike<unknown>;
}

export interface MoveReport {
  log: string;
  from: string;
  to: string;
  /** The log's head (= its number of events), on both sides. */
  head: number;
  clients: number;
  /** Chunks of 10,000 positions whose page checksums were compared. */
  chunks: number;
  /** True when an interrupted move was finished rather than started. */
  resumed: boolean;
  ms: number;
}

interface LogRow {
  head: number;
  writeId: string | null;
  move: LogMove | undefined;
}

const readRow = async (db: SqlExecutor, log: string, lock = false): Promise<LogRow | undefined> => {
  const rows = await db.query<{ head: string | number; write_id: string | null; move_state: string | null; move_peer: string | null }>(
    `SELECT head, write_id, move_state, move_peer FROM chronicle_logs WHERE log = $1${lock ? ' FOR UPDATE' : ''}`,
    [log],
  );
  const row = rows[0];
  return row ? { head: num(row.head), writeId: row.write_id, move: toLogMove(row.move_state, row.move_peer) } : undefined;
};

/** The events the log's pages hold on one side, and its client rows. */
const countRows = async (db: SqlExecutor, log: string): Promise<{ events: number; clients: number }> => {
  const rows = await db.query<{ events: string | number | null; clients: string | number }>(
    `SELECT (SELECT sum(last_position - first_position + 1) FROM chronicle_pages WHERE log = $1) AS events,
            (SELECT count(*) FROM chronicle_clients WHERE log = $1) AS clients`,
    [log],
  );
  return { events: num(rows[0]?.events), clients: num(rows[0]?.clients) };
};

/**
 * Whether two drivers reach one database (a shard map that names it twice,
 * under 127.0.0.1 and localhost, say: a move would leave the log a tombstone
 * pointing at itself): the same server (its start time) and database (its
 * oid). False where that cannot be read.
 */
async function sameDatabase(source: SqlDriver, target: SqlDriver): Promise<boolean> {
  // The server's start time (to the microsecond) and the database's oid: any role may read both.
  const identity = (db: SqlDriver) =>
    db
      .query<{ id: string }>(
        "SELECT pg_postmaster_start_time()::text || '/' || (SELECT oid FROM pg_database WHERE datname = current_database())::text AS id",
      )
      .then(
        (rows) => rows[0]?.id,
        () => undefined,
      );
  const [a, b] = await Promise.all([identity(source), identity(target)]);
  return a !== undefined && a === b;
}

/** What the target's row allows: start (or redo) the copy, finish an interrupted switch, or refuse. */
function targetPlan(
  log: string,
  source: MoveSide,
  target: MoveSide,
  row: LogRow | undefined,
  rows: { events: number; clients: number },
): 'copy' | 'switched' {
  if (!row) {
    if (rows.events > 0 || rows.clients > 0)
      throw refuse(`Database "${target.name}" holds events of log "${log}" but no log row; clean it up first`, {
        log,
        shard: target.name,
        ...rows,
      });
    return 'copy';
  }
  if (row.move?.state === 'moving-in') {
    if (row.move.peer !== source.name)
      throw refuse(`Log "${log}" is being moved into "${target.name}" from "${row.move.peer}"`, {
        log,
        shard: target.name,
        from: row.move.peer,
      });
    return 'copy';
  }
  if (row.move?.state === 'moved') return 'copy'; // a tombstone of an earlier move away from the target: its rows are stale
  if (row.move?.state === 'moving-out') throw refuse(`Log "${log}" is being moved out of "${target.name}"`, { log, shard: target.name });
  // An empty row (nothing was ever stored there), unless a move switched it on (an empty log's move): that one serves the log.
  if (row.head === 0 && rows.events === 0 && rows.clients === 0 && !row.writeId?.endsWith(':in')) return 'copy';
  return 'switched';
}

/**
 * Moves `log` from `source` to `target` (see above). `source` must be where the
 * log lives now; the caller (the sharded store) finds it.
 */
export async function moveLogBetween(log: string, source: MoveSide, target: MoveSide, options: MoveLogOptions = {}): Promise<MoveReport> {
  const started = Date.now();
  const batchEvents = options.batchEvents ?? 5000;
  const batchBytes = options.batchBytes ?? 8 << 20;
  if (!Number.isInteger(batchEvents) || batchEvents < 1) throw new ConfigError('batchEvents must be a positive integer');
  if (!Number.isInteger(batchBytes) || batchBytes < 1) throw new ConfigError('batchBytes must be a positive integer');
  if (source.name === target.name) {
    throw refuse(`Log "${log}" is already on "${target.name}"`, { log, shard: target.name, reason: 'already-there' });
  }
  await Promise.all([checkSchemaVersion(source.driver), checkSchemaVersion(target.driver)]);
  if (await sameDatabase(source.driver, target.driver)) {
    throw refuse(`Shards "${source.name}" and "${target.name}" are the same database (two spellings of one address?)`, {
      log,
      shards: [source.name, target.name],
    });
  }

  const sourceRow = await readRow(source.driver, log);
  if (sourceRow?.move?.state === 'moved')
    throw refuse(`Log "${log}" has already moved from "${source.name}" to "${sourceRow.move.peer}"`, { log, shard: sourceRow.move.peer });
  if (sourceRow?.move?.state === 'moving-in')
    throw refuse(`Log "${log}" is still being moved into "${source.name}"`, { log, shard: source.name });
  if (sourceRow?.move?.state === 'moving-out' && sourceRow.move.peer !== target.name) {
    throw refuse(`Log "${log}" is being moved from "${source.name}" to "${sourceRow.move.peer}"; finish or undo that move first`, {
      log,
      to: sourceRow.move.peer,
    });
  }
  const resumed = sourceRow?.move?.state === 'moving-out';
  const plan = targetPlan(log, source, target, await readRow(target.driver, log), await countRows(target.driver, log));
  if (plan === 'switched' && !resumed) {
    throw refuse(`Database "${target.name}" already holds log "${log}"; moving it there would mix two logs`, { log, shard: target.name });
  }

  const moveId = `move:${globalThis.crypto.randomUUID()}`;
  if (plan === 'switched') {
    // An earlier run switched the target on and stopped before it marked the source: check the copy, finish.
    const head = sourceRow!.head;
    const chunks = await verify(source.driver, target.driver, log, head, false);
    await markMoved(source, target, log, sourceRow!.writeId);
    await options.onStep?.({ step: 'switched' });
    const { clients } = await countRows(target.driver, log);
    return { log, from: source.name, to: target.name, head, clients, chunks, resumed: true, ms: Date.now() - started };
  }

  // 1. reserve the target.
  await target.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    // Checked again under the row's lock: another run of this move may have switched the target on since.
    if (row && targetPlan(log, source, target, row, await countRows(tx, log)) === 'switched') {
      throw refuse(
        `Log "${log}" was switched onto "${target.name}" meanwhile (another run of this move?); run the command again to finish`,
        {
          log,
          shard: target.name,
        },
      );
    }
    // Resuming a copy into this target from this source: what it holds of the rows no write changes stays.
    const resuming = resumed && row?.move?.state === 'moving-in' && row.move.peer === source.name;
    await wipe(tx, log, resuming ? CHANGING : LOG_TABLES);
    await tx.query(
      `INSERT INTO chronicle_logs (log, head, write_id, move_state, move_peer) VALUES ($1, 0, $2, 'moving-in', $3)
       ON CONFLICT (log) DO UPDATE SET head = 0, write_id = $2, move_state = 'moving-in', move_peer = $3`,
      [log, moveId, source.name],
    );
  });
  /** The step under way, for the error of a move that stops; whether the switch was sent (its outcome may be unknown). */
  let step = 'freeze';
  let switchSent = false;
  const done = { head: 0, clients: 0, chunks: 0 };
  try {
    await options.onStep?.({ step: 'reserved' });
    // 2. freeze the source.
    const head = await source.driver.transaction(async (tx) => {
      await tx.query('INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING', [log]);
      const row = (await readRow(tx, log, true))!;
      if (row.move && !(row.move.state === 'moving-out' && row.move.peer === target.name)) {
        throw refuse(`Log "${log}" on "${source.name}" changed its move state meanwhile (${row.move.state})`, { log });
      }
      await tx.query(`UPDATE chronicle_logs SET move_state = 'moving-out', move_peer = $2, write_id = $3 WHERE log = $1`, [
        log,
        target.name,
        moveId,
      ]);
      return row.head;
    });
    done.head = head;
    await options.onStep?.({ step: 'frozen', head });
    // 3. copy.
    step = 'copy';
    const copy: CopyContext = { source: source.driver, target: target.driver, log, moveId, batchEvents, batchBytes };
    done.clients = await copyLog(copy, head, options.onStep);
    await options.onStep?.({ step: 'copied', events: head, clients: done.clients });
    // 4. verify.
    step = 'verify';
    done.chunks = await verify(source.driver, target.driver, log, head, true);
    await options.onStep?.({ step: 'verified', chunks: done.chunks });
    // 5. switch: the target serves the log, then the source points at it.
    step = 'switch';
    switchSent = true;
    await target.driver.transaction(async (tx) => {
      const row = await readRow(tx, log, true);
      if (row?.move?.state !== 'moving-in' || row.writeId !== moveId)
        throw refuse(`Another move of log "${log}" took over the target`, { log });
      await tx.query(`UPDATE chronicle_logs SET head = $2::bigint, write_id = $3, move_state = NULL, move_peer = NULL WHERE log = $1`, [
        log,
        head,
        `${moveId}:in`,
      ]);
    });
    step = 'mark the source moved';
    await markMoved(source, target, log, moveId);
  } catch (error) {
    // Undone unless the switch committed (then finished), and never while that is unknown.
    const outcome = await undo(source, target, log, moveId, switchSent);
    if (outcome !== 'finished') throw stopped(error, step, outcome, source, target, log);
  }
  // Outside the try: the move is done, so a callback that throws now is the caller's error as it is,
  // not a stopped move to undo (which used to say "could not be marked moved" of a finished move).
  await options.onStep?.({ step: 'switched' });
  return { log, from: source.name, to: target.name, ...done, resumed, ms: Date.now() - started };
}

/** What undo() did: see there. */
type UndoOutcome = 'undone' | 'elsewhere' | 'finished' | 'frozen' | 'stuck' | 'switched';

/** The error of a move that stopped at `step`: the cause, and where the log is served now. */
function stopped(error: unknown, step: string, outcome: UndoOutcome, source: MoveSide, target: MoveSide, log: string): LogMoveError {
  const cause = error instanceof Error ? error.message : String(error);
  const where = {
    undone: `the move was undone: "${source.name}" serves the log again`,
    frozen: `"${target.name}" did not answer after the switch was sent, so whether it committed is unknown: the log stays frozen on "${source.name}" (pushes get 503); run the command again once "${target.name}" answers`,
    elsewhere: `"${source.name}" was not frozen by this run (it stopped before, or another run of the move or a finished move holds it): it is as it was`,
    stuck: `"${source.name}" did not answer, so the log stays frozen there (pushes get 503); run the command again once it answers`,
    switched: `"${target.name}" serves the log, but "${source.name}" could not be marked moved; run the command again to finish`,
    finished: '',
  }[outcome];
  const details: Record<string, unknown> = error instanceof LogMoveError ? error.details : {};
  return new LogMoveError(`${cause} (step: ${step}); ${where}`, { ...details, log, step, outcome, cause });
}

/** The source becomes a tombstone, if it is still frozen by this move (its write id). */
async function markMoved(source: MoveSide, target: MoveSide, log: string, frozenBy: string | null): Promise<void> {
  await source.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    if (row?.move?.state !== 'moving-out' || row.move.peer !== target.name || row.writeId !== frozenBy) {
      throw refuse(`Log "${log}" on "${source.name}" is no longer frozen by this move to "${target.name}"`, { log });
    }
    await tx.query(`UPDATE chronicle_logs SET move_state = 'moved', write_id = $2 WHERE log = $1`, [log, `moved:${target.name}`]);
  });
}

/**
 * After a move stopped: undoes it if it was not switched. Under the target
 * row's lock first, since a switch whose answer was lost may have committed:
 *
 * - switched on by this move: the source is marked moved (`finished`), or
 *   stays frozen if that fails (`switched`; running the move again finishes);
 * - still reserved by this move: its copy goes and its row becomes a tombstone
 *   pointing back at the source (so that a node sent there by a map changed
 *   too early finds the log where it is), then the source is served again
 *   (`undone`), if this run froze it (`elsewhere` if not);
 * - not answering: if the switch was sent, its outcome is unknown and the
 *   source stays frozen (`frozen`), or two databases could take writes; if
 *   not, nothing can have switched, and the source is served again (the
 *   target keeps a reservation that a later move clears).
 */
async function undo(source: MoveSide, target: MoveSide, log: string, moveId: string, switchSent: boolean): Promise<UndoOutcome> {
  let onTarget: 'switched' | 'released' | 'unknown';
  try {
    onTarget = await target.driver.transaction(async (tx) => {
      const row = await readRow(tx, log, true);
      if (row && row.move === undefined && row.writeId === `${moveId}:in`) return 'switched';
      if (row?.move?.state !== 'moving-in' || row.writeId !== moveId) return 'released'; // another run took it over
      await wipe(tx, log, LOG_TABLES);
      await tx.query(`UPDATE chronicle_logs SET head = 0, move_state = 'moved', move_peer = $2, write_id = $3 WHERE log = $1`, [
        log,
        source.name,
        `${moveId}:undone`,
      ]);
      return 'released';
    });
  } catch {
    onTarget = 'unknown';
  }
  if (onTarget === 'switched') {
    return markMoved(source, target, log, moveId).then(
      () => 'finished',
      () => 'switched',
    );
  }
  if (onTarget === 'unknown' && switchSent) return 'frozen';
  return unfreeze(source, target, log, moveId).then(
    (unfrozen) => (unfrozen ? 'undone' : 'elsewhere'),
    () => 'stuck',
  );
}

/** The source is served again, if it is still frozen by this move; false when it was not (another run's, or moved). */
async function unfreeze(source: MoveSide, target: MoveSide, log: string, moveId: string): Promise<boolean> {
  return source.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    // Only a freeze of this move is undone: a later run of the same move may have frozen it again.
    if (row?.move?.state !== 'moving-out' || row.move.peer !== target.name || row.writeId !== moveId) return false;
    await tx.query(`UPDATE chronicle_logs SET move_state = NULL, move_peer = NULL, write_id = $2 WHERE log = $1`, [
      log,
      `${moveId}:undone`,
    ]);
    return true;
  });
}

/**
 * After a move, once every node routes the log to its new database: deletes the
 * log's rows (pages, event ids, aggregate heads, client ranges, client marks)
 * from the database it left, keeping the tombstone row (a node that still
 * routes there follows it). Returns the events and client rows it held.
 */
export async function purgeMovedLog(log: string, side: MoveSide): Promise<{ events: number; clients: number }> {
  const row = await readRow(side.driver, log);
  if (row?.move?.state !== 'moved') throw refuse(`Log "${log}" has not moved away from "${side.name}"`, { log, shard: side.name });
  const before = await countRows(side.driver, log);
  await wipe(side.driver, log, LOG_TABLES);
  return before;
}
