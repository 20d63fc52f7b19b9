import { checkSchemaVersion } from './schema.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import { eventsArray, num } from './statements.ts';
import { toLogMove, type LogMove } from './move-state.ts';

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
 * 3. copy: events in position order, then client marks and epochs.
 * 4. verify: counts, positions, and an md5 per 10,000 positions of every
 *    column of every event, and of the client rows, computed by each database.
 * 5. switch: the target's row takes the head and its move state is cleared
 *    (it serves the log from now on); then the source's row becomes a `moved`
 *    tombstone naming the target, which sharded stores follow.
 *
 * A failure before the switch undoes the move (the target keeps a tombstone
 * pointing back at the source, the source is unfrozen); running the move again
 * after a crash resumes it.
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
  /** Events per copy statement (default 5,000). */
  batchEvents?: number;
  /** Called after each step; a failure it throws before the switch undoes the move. */
  onStep?: (step: MoveStep) => void | Promise<void>;
}

export interface MoveReport {
  log: string;
  from: string;
  to: string;
  /** The log's head (= its number of events), on both sides. */
  head: number;
  clients: number;
  /** Chunks of 10,000 positions whose checksums were compared. */
  chunks: number;
  /** True when an interrupted move was finished rather than started. */
  resumed: boolean;
  ms: number;
}

/** Positions per checksum. */
const CHUNK = 10_000;

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

const countRows = async (db: SqlExecutor, log: string): Promise<{ events: number; clients: number }> => {
  const rows = await db.query<{ events: string | number; clients: string | number }>(
    `SELECT (SELECT count(*) FROM chronicle_events WHERE log = $1) AS events, (SELECT count(*) FROM chronicle_clients WHERE log = $1) AS clients`,
    [log],
  );
  return { events: num(rows[0]?.events), clients: num(rows[0]?.clients) };
};

/** Per CHUNK positions up to `head`: how many events and an md5 of all their columns, as one database computes them. */
const eventSums = (db: SqlExecutor, log: string, head: number) =>
  db.query<{ chunk: string | number; n: string | number; lo: string | number; hi: string | number; sum: string }>(
    `SELECT (position - 1) / ${CHUNK} AS chunk, count(*) AS n, min(position) AS lo, max(position) AS hi,
            md5(string_agg(position::text || E'\\t' || id || E'\\t' || aggregate_id || E'\\t' || seq::text || E'\\t' ||
                           client_id || E'\\t' || client_seq::text || E'\\t' || event::text, E'\\n' ORDER BY position)) AS sum
       FROM chronicle_events WHERE log = $1 AND position <= $2::bigint GROUP BY 1 ORDER BY 1`,
    [log, head],
  );

const clientSum = async (db: SqlExecutor, log: string): Promise<string> => {
  const rows = await db.query<{ n: string | number; sum: string | null }>(
    `SELECT count(*) AS n, md5(coalesce(string_agg(client_id || E'\\t' || client_seq::text || E'\\t' || epoch::text, E'\\n' ORDER BY client_id), '')) AS sum
       FROM chronicle_clients WHERE log = $1`,
    [log],
  );
  return `${num(rows[0]?.n)}:${rows[0]?.sum ?? ''}`;
};

/** A move that cannot start, or that stopped (and was undone): what and why, with the facts in `details`. */
export class LogMoveError extends Error {
  override name = 'LogMoveError';
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.details = details;
  }
}

const refuse = (message: string, details: Record<string, unknown> = {}): LogMoveError => new LogMoveError(message, details);

/** Deletes a log's events and client rows on one side (in pieces, so no statement runs long). */
async function wipe(db: SqlExecutor, log: string): Promise<void> {
  for (;;) {
    const rows = await db.query<{ n: string | number }>(
      `WITH gone AS (
         DELETE FROM chronicle_events WHERE log = $1 AND position IN (SELECT position FROM chronicle_events WHERE log = $1 ORDER BY position LIMIT 20000)
         RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [log],
    );
    if (num(rows[0]?.n) === 0) break;
  }
  await db.query('DELETE FROM chronicle_clients WHERE log = $1', [log]);
}

/**
 * Compares the events up to `head` (and, unless `clients` is false, the client
 * rows) on both sides; throws when anything differs. Returns the number of chunks.
 */
async function verify(source: SqlDriver, target: SqlDriver, log: string, head: number, clients: boolean): Promise<number> {
  const [a, b] = await Promise.all([eventSums(source, log, head), eventSums(target, log, head)]);
  const line = (r: { chunk: string | number; n: string | number; lo: string | number; hi: string | number; sum: string }) =>
    `${num(r.chunk)}:${num(r.n)}:${num(r.lo)}:${num(r.hi)}:${r.sum}`;
  const count = a.reduce((n, r) => n + num(r.n), 0);
  if (count !== head)
    throw refuse(`The source holds ${count} events of log "${log}" up to its head ${head}: positions are not gapless`, {
      log,
      head,
      count,
    });
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const left = a[i] ? line(a[i]!) : 'missing';
    const right = b[i] ? line(b[i]!) : 'missing';
    if (left !== right) {
      throw refuse(`The copy of log "${log}" differs from the source at positions ${i * CHUNK + 1}..${(i + 1) * CHUNK}`, {
        log,
        chunk: i,
        source: left,
        target: right,
      });
    }
  }
  if (clients) {
    const [x, y] = await Promise.all([clientSum(source, log), clientSum(target, log)]);
    if (x !== y) throw refuse(`The copied client marks of log "${log}" differ from the source`, { log, source: x, target: y });
  }
  return a.length;
}

/** Copies events after+1..head from source to target, `batch` per statement, each batch checked gapless. */
async function copyEvents(
  source: SqlDriver,
  target: SqlDriver,
  log: string,
  head: number,
  moveId: string,
  batch: number,
  onStep: MoveLogOptions['onStep'],
): Promise<void> {
  for (let after = 0; after < head;) {
    const rows = await source.query<{
      position: string | number;
      id: string;
      aggregate_id: string;
      seq: string | number;
      client_id: string;
      client_seq: string | number;
      event: string;
    }>(
      `SELECT position, id, aggregate_id, seq, client_id, client_seq, event::text AS event FROM chronicle_events
        WHERE log = $1 AND position > $2::bigint AND position <= $2::bigint + $3::int ORDER BY position`,
      [log, after, Math.min(batch, head - after)],
    );
    if (rows.length === 0 || num(rows[0]!.position) !== after + 1 || num(rows[rows.length - 1]!.position) !== after + rows.length) {
      throw refuse(`Log "${log}" on the source has a gap after position ${after}`, { log, after });
    }
    await target.transaction(async (tx) => {
      const mine = await tx.query('SELECT 1 FROM chronicle_logs WHERE log = $1 AND move_state = $2 AND write_id = $3 FOR SHARE', [
        log,
        'moving-in',
        moveId,
      ]);
      if (mine.length !== 1) throw refuse(`Another move of log "${log}" took over the target`, { log });
      await tx.query(
        `INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event)
         SELECT $1, r.p::bigint, r.i, r.a, r.s::bigint, r.c, r.q::bigint, r.e
           FROM ROWS FROM (
             json_array_elements_text($2::json), json_array_elements_text($3::json), json_array_elements_text($4::json),
             json_array_elements_text($5::json), json_array_elements_text($6::json), json_array_elements_text($7::json),
             json_array_elements($8::json)
           ) AS r(p, i, a, s, c, q, e)`,
        [
          log,
          JSON.stringify(rows.map((r) => num(r.position))),
          JSON.stringify(rows.map((r) => r.id)),
          JSON.stringify(rows.map((r) => r.aggregate_id)),
          JSON.stringify(rows.map((r) => num(r.seq))),
          JSON.stringify(rows.map((r) => r.client_id)),
          JSON.stringify(rows.map((r) => num(r.client_seq))),
          eventsArray(rows.map((r) => r.event)),
        ],
      );
    });
    after += rows.length;
    await onStep?.({ step: 'copying', copied: after, head });
  }
}

async function copyClients(source: SqlDriver, target: SqlDriver, log: string): Promise<number> {
  const rows = await source.query<{ client_id: string; client_seq: string | number; epoch: string | number }>(
    'SELECT client_id, client_seq, epoch FROM chronicle_clients WHERE log = $1 ORDER BY client_id',
    [log],
  );
  for (let i = 0; i < rows.length; i += 5000) {
    const part = rows.slice(i, i + 5000);
    await target.query(
      `INSERT INTO chronicle_clients (log, client_id, client_seq, epoch)
       SELECT $1, r.c, r.q::bigint, r.e::bigint
         FROM ROWS FROM (json_array_elements_text($2::json), json_array_elements_text($3::json), json_array_elements_text($4::json)) AS r(c, q, e)`,
      [
        log,
        JSON.stringify(part.map((r) => r.client_id)),
        JSON.stringify(part.map((r) => num(r.client_seq))),
        JSON.stringify(part.map((r) => num(r.epoch))),
      ],
    );
  }
  return rows.length;
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
  if (row.head === 0 && rows.events === 0 && rows.clients === 0) return 'copy'; // an empty row (nothing was ever stored there)
  return 'switched';
}

/**
 * Moves `log` from `source` to `target` (see above). `source` must be where the
 * log lives now; the caller (the sharded store) finds it.
 */
export async function moveLogBetween(log: string, source: MoveSide, target: MoveSide, options: MoveLogOptions = {}): Promise<MoveReport> {
  const started = Date.now();
  const batch = options.batchEvents ?? 5000;
  if (!Number.isInteger(batch) || batch < 1) throw new Error('batchEvents must be a positive integer');
  if (source.name === target.name) throw refuse(`Log "${log}" is already on "${target.name}"`, { log, shard: target.name });
  await Promise.all([checkSchemaVersion(source.driver), checkSchemaVersion(target.driver)]);

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
    return {
      log,
      from: source.name,
      to: target.name,
      head,
      clients: (await countRows(target.driver, log)).clients,
      chunks,
      resumed: true,
      ms: Date.now() - started,
    };
  }

  // 1. reserve the target.
  await target.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    if (row) targetPlan(log, source, target, row, await countRows(tx, log));
    await wipe(tx, log);
    await tx.query(
      `INSERT INTO chronicle_logs (log, head, write_id, move_state, move_peer) VALUES ($1, 0, $2, 'moving-in', $3)
       ON CONFLICT (log) DO UPDATE SET head = 0, write_id = $2, move_state = 'moving-in', move_peer = $3`,
      [log, moveId, source.name],
    );
  });
  let frozen = false;
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
    frozen = true;
    await options.onStep?.({ step: 'frozen', head });
    // 3. copy.
    await copyEvents(source.driver, target.driver, log, head, moveId, batch, options.onStep);
    const clients = await copyClients(source.driver, target.driver, log);
    await options.onStep?.({ step: 'copied', events: head, clients });
    // 4. verify.
    const chunks = await verify(source.driver, target.driver, log, head, true);
    await options.onStep?.({ step: 'verified', chunks });
    // 5. switch: the target serves the log, then the source points at it.
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
    frozen = false;
    await markMoved(source, target, log, moveId);
    await options.onStep?.({ step: 'switched' });
    return { log, from: source.name, to: target.name, head, clients, chunks, resumed, ms: Date.now() - started };
  } catch (error) {
    // Not switched: undo, so the log is served from the source again.
    if (frozen || !(await switchedOn(target, log, moveId))) await undo(source, target, log, moveId).catch(() => undefined);
    throw error;
  }
}

const switchedOn = async (target: MoveSide, log: string, moveId: string): Promise<boolean> => {
  const row = await readRow(target.driver, log).catch(() => undefined);
  return row !== undefined && row.move === undefined && row.writeId === `${moveId}:in`;
};

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
 * Undoes a move that was not switched: the target's copy goes and its row
 * becomes a tombstone pointing back at the source (so that a node sent there
 * by a map changed too early finds the log where it is); the source is served
 * again.
 */
async function undo(source: MoveSide, target: MoveSide, log: string, moveId: string): Promise<void> {
  await target.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    if (row?.move?.state !== 'moving-in' || row.writeId !== moveId) return;
    await wipe(tx, log);
    await tx.query(`UPDATE chronicle_logs SET head = 0, move_state = 'moved', move_peer = $2, write_id = $3 WHERE log = $1`, [
      log,
      source.name,
      `${moveId}:undone`,
    ]);
  });
  await source.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    // Only a freeze of this move is undone: a later run of the same move may have frozen it again.
    if (row?.move?.state !== 'moving-out' || row.move.peer !== target.name || row.writeId !== moveId) return;
    await tx.query(`UPDATE chronicle_logs SET move_state = NULL, move_peer = NULL, write_id = $2 WHERE log = $1`, [
      log,
      `${moveId}:undone`,
    ]);
  });
}

/**
 * After a move, once every node routes the log to its new database: deletes the
 * log's events and client rows from the database it left, keeping the
 * tombstone row (a node that still routes there follows it).
 */
export async function purgeMovedLog(log: string, side: MoveSide): Promise<{ events: number; clients: number }> {
  const row = await readRow(side.driver, log);
  if (row?.move?.state !== 'moved') throw refuse(`Log "${log}" has not moved away from "${side.name}"`, { log, shard: side.name });
  const before = await countRows(side.driver, log);
  await wipe(side.driver, log);
  return before;
}
