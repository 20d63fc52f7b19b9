import { checkSchemaVersion } from './schema.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import { num } from './statements.ts';
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
  /** Chunks of 10,000 positions whose page checksums were compared. */
  chunks: number;
  /** True when an interrupted move was finished rather than started. */
  resumed: boolean;
  ms: number;
}

/** Positions per page checksum, and rows per checksum of the other tables. */
const CHUNK = 10_000;
/** Positions (pages, ranges) or rows (other tables) per delete statement. */
const WIPE = 20_000;

/** One of the tables that hold a log's rows, as a move copies, checks and deletes them. */
interface LogTable {
  name: string;
  /** Unique within a log and indexed: copies and checksums go in its order, each batch after the last key of the one before. */
  key: string;
  /** The columns besides `log` and their types, in order; each travels as its text. */
  columns: Readonly<Record<string, string>>;
  /** SQL for the events a row holds and its bytes (octet_length reads no text), which bound batches. Absent: one small row. */
  size?: { events: string; bytes: string };
  /** SQL for a row's position in the log, to compare the rows up to a head (see verify). Absent: compared only in full. */
  position?: string;
}

const PAGES: LogTable = {
  name: 'chronicle_pages',
  key: 'first_position',
  columns: { first_position: 'bigint', last_position: 'bigint', events: 'text', ends: 'int4[]' },
  size: { events: 'last_position - first_position + 1', bytes: 'octet_length(events)' },
};
const EVENT_IDS: LogTable = { name: 'chronicle_event_ids', key: 'id', columns: { id: 'text', position: 'bigint' }, position: 'position' };
const HEADS: LogTable = { name: 'chronicle_heads', key: 'aggregate_id', columns: { aggregate_id: 'text', head: 'bigint' } };
// Ranges partition the log's positions, so a range's first position is unique in the log (and indexed).
const RANGES: LogTable = {
  name: 'chronicle_ranges',
  key: 'first_position',
  columns: { first_position: 'bigint', client_id: 'text', from_seq: 'bigint', to_seq: 'bigint', ids: 'text' },
  size: { events: 'to_seq - from_seq + 1', bytes: 'octet_length(ids)' },
  position: 'first_position',
};
const CLIENTS: LogTable = {
  name: 'chronicle_clients',
  key: 'client_id',
  columns: { client_id: 'text', client_seq: 'bigint', epoch: 'bigint' },
};

/** Every table of a log's rows, in the order they are copied. */
const LOG_TABLES = [PAGES, EVENT_IDS, HEADS, RANGES, CLIENTS] as const;
/** The tables whose rows writes change (heads, marks): never kept from an interrupted copy. */
const CHANGING = [HEADS, CLIENTS] as const;

const textKey = (t: LogTable): boolean => t.columns[t.key] === 'text';
/**
 * The key as ordered and compared: a text key bytewise (the "C" collation)
 * whatever its column's collation (chronicle_clients may predate "C"), so that
 * both databases walk the rows in the same order.
 */
const keyOf = (t: LogTable): string => (textKey(t) ? `${t.key} COLLATE "C"` : t.key);

/** ` AND` conditions for keys in (after, upTo] (null: no bound), their values appended to `params`. */
function keyRange(t: LogTable, params: unknown[], after: string | null, upTo: string | null = null): string {
  let sql = '';
  for (const [value, op] of [
    [after, '>'],
    [upTo, '<='],
  ] as const) {
    if (value === null) continue;
    params.push(value);
    sql += ` AND ${keyOf(t)} ${op} $${params.length}::${textKey(t) ? 'text' : 'bigint'}`;
  }
  return sql;
}

/** The table's columns as text, named c0, c1, ... (not their own names: an ORDER BY of the key must mean the column). */
const selectColumns = (t: LogTable): string =>
  Object.keys(t.columns)
    .map((column, i) => `${column}::text AS c${i}`)
    .join(', ');

/** Inserts rows read with selectColumns: $1 the log, then a JSON array of texts per column. */
function insertSql(t: LogTable): string {
  const types = Object.values(t.columns);
  return `INSERT INTO ${t.name} (log, ${Object.keys(t.columns).join(', ')})
    SELECT $1, ${types.map((type, i) => `r.c${i}::${type}`).join(', ')}
      FROM ROWS FROM (${types.map((_, i) => `json_array_elements_text($${i + 2}::json)`).join(', ')})
        AS r(${types.map((_, i) => `c${i}`).join(', ')})`;
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

/**
 * Deletes a log's rows of `tables` on one side, in pieces so that no
 * statement runs long: pages and ranges by WIPE positions (a piece of pages
 * holds about that many events), other tables by WIPE rows.
 */
async function wipe(db: SqlExecutor, log: string, tables: readonly LogTable[]): Promise<void> {
  for (const t of tables) {
    const piece = t.size
      ? `${t.key} <= (SELECT min(${t.key}) FROM ${t.name} WHERE log = $1) + ${WIPE}`
      : `${keyOf(t)} IN (SELECT ${keyOf(t)} FROM ${t.name} WHERE log = $1 ORDER BY ${keyOf(t)} LIMIT ${WIPE})`;
    for (;;) {
      const rows = await db.query<{ n: string | number }>(
        `WITH gone AS (DELETE FROM ${t.name} WHERE log = $1 AND ${piece} RETURNING 1) SELECT count(*) AS n FROM gone`,
        [log],
      );
      if (num(rows[0]?.n) === 0) break;
    }
  }
}

type PageSum = Record<'chunk' | 'pages' | 'n' | 'lo' | 'hi' | 'broken', string | number> & { sum: string };

/**
 * Per CHUNK positions (the pages that start in them; only those starting up
 * to `upTo` unless it is null), as one database computes them: how many pages
 * and events, the first and last position, the pages that do not start where
 * the one before ended or whose ends are not one per position (`broken`),
 * and an md5 over every column of every page. Each page is hashed alone
 * first, so no chunk's string grows with its pages' texts.
 */
const pageSums = (db: SqlExecutor, log: string, upTo: number | null): Promise<PageSum[]> =>
  db.query<PageSum>(
    `SELECT (first_position - 1) / ${CHUNK} AS chunk, count(*) AS pages, sum(last_position - first_position + 1) AS n,
            min(first_position) AS lo, max(last_position) AS hi,
            count(*) FILTER (WHERE first_position <> prev + 1 OR cardinality(ends) <> last_position - first_position + 1) AS broken,
            md5(string_agg(md5(concat_ws(E'\\t', first_position, last_position, ends::text, events)), '' ORDER BY first_position)) AS sum
       FROM (SELECT *, coalesce(lag(last_position) OVER (ORDER BY first_position), 0) AS prev FROM chronicle_pages
              WHERE log = $1${upTo === null ? '' : ' AND first_position <= $2::bigint'}) p
      GROUP BY 1 ORDER BY 1`,
    upTo === null ? [log] : [log, upTo],
  );

/**
 * Compares the pages on both sides per CHUNK positions (see pageSums), after
 * checking that the source's cover positions 1..head one by one (then its
 * positions are gapless); returns the number of chunks.
 */
async function comparePages(source: SqlDriver, target: SqlDriver, log: string, head: number, upTo: number | null): Promise<number> {
  const [a, b] = await Promise.all([pageSums(source, log, upTo), pageSums(target, log, upTo)]);
  const broken = a.reduce((n, r) => n + num(r.broken), 0);
  const last = num(a[a.length - 1]?.hi);
  if (broken > 0 || last !== head) {
    throw refuse(`The source's pages of log "${log}" do not hold positions 1..${head} one by one: positions are not gapless`, {
      log,
      head,
      last,
      broken,
    });
  }
  const line = (r: PageSum) => `${num(r.chunk)}:${num(r.pages)}:${num(r.n)}:${num(r.lo)}:${num(r.hi)}:${num(r.broken)}:${r.sum}`;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const left = a[i] ? line(a[i]!) : 'missing';
    const right = b[i] ? line(b[i]!) : 'missing';
    if (left !== right) {
      const chunk = num((a[i] ?? b[i])!.chunk);
      throw refuse(`The copy of log "${log}" differs from the source at positions ${chunk * CHUNK + 1}..${(chunk + 1) * CHUNK}`, {
        log,
        table: PAGES.name,
        chunk,
        source: left,
        target: right,
      });
    }
  }
  return a.length;
}

/**
 * The count, an md5 over every column (each row hashed alone, in key order)
 * and the last key of the CHUNK rows of the table after key `after`, as one
 * database computes them; only rows at positions up to `upTo` unless it is null.
 */
async function rowSum(db: SqlExecutor, t: LogTable, log: string, after: string | null, upTo: number | null): Promise<string[]> {
  const params: unknown[] = [log];
  let where = keyRange(t, params, after);
  if (upTo !== null) {
    params.push(upTo);
    where += ` AND ${t.position!} <= $${params.length}::bigint`;
  }
  const rows = await db.query<{ n: string | number; sum: string | null; last: string | null }>(
    `SELECT count(*) AS n, md5(string_agg(r, '' ORDER BY k)) AS sum, max(k)::text AS last
       FROM (SELECT ${keyOf(t)} AS k, md5(concat_ws(E'\\t', ${Object.keys(t.columns).join(', ')})) AS r
               FROM ${t.name} WHERE log = $1${where} ORDER BY ${keyOf(t)} LIMIT ${CHUNK}) c`,
    params,
  );
  return [String(num(rows[0]?.n)), rows[0]?.sum ?? '', rows[0]?.last ?? ''];
}

/** Compares the table's rows on both sides, CHUNK rows at a time in key order (see rowSum). */
async function compareRows(source: SqlDriver, target: SqlDriver, t: LogTable, log: string, upTo: number | null): Promise<void> {
  for (let after: string | null = null; ;) {
    const [a, b]: [string[], string[]] = await Promise.all([rowSum(source, t, log, after, upTo), rowSum(target, t, log, after, upTo)]);
    if (a.join(':') !== b.join(':')) {
      throw refuse(`The copied rows of ${t.name} of log "${log}" differ from the source`, {
        log,
        table: t.name,
        after,
        source: a.join(':'),
        target: b.join(':'),
      });
    }
    if (Number(a[0]) < CHUNK) return;
    after = a[2]!;
  }
}

/**
 * Compares the log's rows of every table on both sides, and checks that its
 * positions are gapless; throws when anything differs. With `full` false,
 * only positions up to `head` are compared (the target was switched on and
 * may hold later writes): pages, ids and ranges up to it, not heads and
 * client rows. Returns the number of page chunks.
 */
async function verify(source: SqlDriver, target: SqlDriver, log: string, head: number, full: boolean): Promise<number> {
  const upTo = full ? null : head;
  const chunks = await comparePages(source, target, log, head, upTo);
  for (const t of [EVENT_IDS, HEADS, RANGES, CLIENTS]) {
    if (full || t.position) await compareRows(source, target, t, log, upTo);
  }
  return chunks;
}

type CopyContext = { source: SqlDriver; target: SqlDriver; log: string; moveId: string; batchEvents: number; batchBytes: number };

/**
 * The last key of the next batch of a sized table after key `after` (rows in
 * key order while their events and bytes fit, at least one), or undefined
 * when there is none. Reads sizes only, not the rows' texts.
 */
async function batchEnd(c: CopyContext, t: LogTable, after: string | null): Promise<string | undefined> {
  const params: unknown[] = [c.log];
  const where = keyRange(t, params, after);
  const rows = await c.source.query<{ k: string; e: string | number; b: string | number | null }>(
    `SELECT (${keyOf(t)})::text AS k, ${t.size!.events} AS e, ${t.size!.bytes} AS b
       FROM ${t.name} WHERE log = $1${where} ORDER BY ${keyOf(t)} LIMIT ${c.batchEvents}`,
    params,
  );
  let events = 0;
  let bytes = 0;
  let end: string | undefined;
  for (const row of rows) {
    events += num(row.e);
    bytes += num(row.b);
    if (end !== undefined && (events > c.batchEvents || bytes > c.batchBytes)) break;
    end = row.k;
  }
  return end;
}

/**
 * Copies the table's rows of the log from the source to the target, in key
 * order after the last key the target holds (what an interrupted run copied
 * stays), a batch per target transaction (all or nothing) that first checks
 * that the target still belongs to this move. `onBatch` gets each batch's
 * last row, by column name.
 */
async function copyTable(c: CopyContext, t: LogTable, onBatch?: (last: Record<string, string>) => Promise<void>): Promise<void> {
  const held = await c.target.query<{ k: string | null }>(`SELECT max(${keyOf(t)})::text AS k FROM ${t.name} WHERE log = $1`, [c.log]);
  let after = held[0]?.k ?? null;
  const columns = Object.keys(t.columns);
  for (;;) {
    const params: unknown[] = [c.log];
    let where: string;
    if (t.size) {
      const end = await batchEnd(c, t, after);
      if (end === undefined) break;
      where = keyRange(t, params, after, end);
    } else {
      where = keyRange(t, params, after);
    }
    const rows = await c.source.query<Record<string, string>>(
      `SELECT ${selectColumns(t)} FROM ${t.name} WHERE log = $1${where} ORDER BY ${keyOf(t)}${t.size ? '' : ` LIMIT ${c.batchEvents}`}`,
      params,
    );
    if (rows.length === 0) break;
    await c.target.transaction(async (tx) => {
      const mine = await tx.query('SELECT 1 FROM chronicle_logs WHERE log = $1 AND move_state = $2 AND write_id = $3 FOR SHARE', [
        c.log,
        'moving-in',
        c.moveId,
      ]);
      if (mine.length !== 1) throw refuse(`Another move of log "${c.log}" took over the target`, { log: c.log });
      await tx.query(insertSql(t), [c.log, ...columns.map((_, i) => JSON.stringify(rows.map((r) => r[`c${i}`])))]);
    });
    const last = rows[rows.length - 1]!;
    after = last[`c${columns.indexOf(t.key)}`]!;
    await onBatch?.(Object.fromEntries(columns.map((column, i) => [column, last[`c${i}`]!])));
  }
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

/** Copies the log's rows (step 3): pages first, reporting each batch; returns the client rows the target holds. */
async function copyLog(c: CopyContext, head: number, onStep: MoveLogOptions['onStep']): Promise<number> {
  await copyTable(c, PAGES, async (last) => {
    await onStep?.({ step: 'copying', copied: num(last.last_position), head });
  });
  for (const t of LOG_TABLES) if (t !== PAGES) await copyTable(c, t);
  const rows = await c.target.query<{ n: string | number }>('SELECT count(*) AS n FROM chronicle_clients WHERE log = $1', [c.log]);
  return num(rows[0]?.n);
}

/**
 * Moves `log` from `source` to `target` (see above). `source` must be where the
 * log lives now; the caller (the sharded store) finds it.
 */
export async function moveLogBetween(log: string, source: MoveSide, target: MoveSide, options: MoveLogOptions = {}): Promise<MoveReport> {
  const started = Date.now();
  const batchEvents = options.batchEvents ?? 5000;
  const batchBytes = options.batchBytes ?? 8 << 20;
  if (!Number.isInteger(batchEvents) || batchEvents < 1) throw new Error('batchEvents must be a positive integer');
  if (!Number.isInteger(batchBytes) || batchBytes < 1) throw new Error('batchBytes must be a positive integer');
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
    const { clients } = await countRows(target.driver, log);
    return { log, from: source.name, to: target.name, head, clients, chunks, resumed: true, ms: Date.now() - started };
  }

  // 1. reserve the target.
  await target.driver.transaction(async (tx) => {
    const row = await readRow(tx, log, true);
    if (row) targetPlan(log, source, target, row, await countRows(tx, log));
    // Resuming a copy into this target from this source: what it holds of the rows no write changes stays.
    const resuming = resumed && row?.move?.state === 'moving-in' && row.move.peer === source.name;
    await wipe(tx, log, resuming ? CHANGING : LOG_TABLES);
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
    const copy: CopyContext = { source: source.driver, target: target.driver, log, moveId, batchEvents, batchBytes };
    const clients = await copyLog(copy, head, options.onStep);
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
    await wipe(tx, log, LOG_TABLES);
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
