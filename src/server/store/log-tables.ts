import type { SqlExecutor } from './sql-driver.ts';
import { num } from './statements.ts';

/**
 * The tables that hold a log's rows (schema 5, schema.ts), described as a
 * log move (log-move.ts) copies, checks and deletes them, and the SQL it
 * builds over those descriptions.
 */

/** Positions (pages, ranges) or rows (other tables) per delete statement. */
const WIPE = 20_000;

/** One of the tables that hold a log's rows, as a move copies, checks and deletes them. */
export interface LogTable {
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

export const PAGES: LogTable = {
  name: 'chronicle_pages',
  key: 'first_position',
  columns: { first_position: 'bigint', last_position: 'bigint', events: 'text', ends: 'int4[]' },
  size: { events: 'last_position - first_position + 1', bytes: 'octet_length(events)' },
};
export const EVENT_IDS: LogTable = {
  name: 'chronicle_event_ids',
  key: 'id',
  columns: { id: 'text', position: 'bigint' },
  position: 'position',
};
export const HEADS: LogTable = { name: 'chronicle_heads', key: 'aggregate_id', columns: { aggregate_id: 'text', head: 'bigint' } };
// Ranges partition the log's positions, so a range's first position is unique in the log (and indexed).
export const RANGES: LogTable = {
  name: 'chronicle_ranges',
  key: 'first_position',
  columns: { first_position: 'bigint', client_id: 'text', from_seq: 'bigint', to_seq: 'bigint', ids: 'text' },
  size: { events: 'to_seq - from_seq + 1', bytes: 'octet_length(ids)' },
  position: 'first_position',
};
export const CLIENTS: LogTable = {
  name: 'chronicle_clients',
  key: 'client_id',
  columns: { client_id: 'text', client_seq: 'bigint', epoch: 'bigint' },
};

/** Every table of a log's rows, in the order they are copied. */
export const LOG_TABLES = [PAGES, EVENT_IDS, HEADS, RANGES, CLIENTS] as const;
/** The tables whose rows writes change (heads, marks): never kept from an interrupted copy. */
export const CHANGING = [HEADS, CLIENTS] as const;

const textKey = (t: LogTable): boolean => t.columns[t.key] === 'text';
/**
 * The key as ordered and compared: a text key bytewise (the "C" collation)
 * whatever its column's collation (chronicle_clients may predate "C"), so that
 * both databases walk the rows in the same order.
 */
export const keyOf = (t: LogTable): string => (textKey(t) ? `${t.key} COLLATE "C"` : t.key);

/** ` AND` conditions for keys in (after, upTo] (null: no bound), their values appended to `params`. */
export function keyRange(t: LogTable, params: unknown[], after: string | null, upTo: string | null = null): string {
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
export const selectColumns = (t: LogTable): string =>
  Object.keys(t.columns)
    .map((column, i) => `${column}::text AS c${i}`)
    .join(', ');

/** Inserts rows read with selectColumns: $1 the log, then a JSON array of texts per column. */
export function insertSql(t: LogTable): string {
  const types = Object.values(t.columns);
  return `INSERT INTO ${t.name} (log, ${Object.keys(t.columns).join(', ')})
    SELECT $1, ${types.map((type, i) => `r.c${i}::${type}`).join(', ')}
      FROM ROWS FROM (${types.map((_, i) => `json_array_elements_text($${i + 2}::json)`).join(', ')})
        AS r(${types.map((_, i) => `c${i}`).join(', ')})`;
}

/**
 * Deletes a log's rows of `tables` on one side, in pieces so that no
 * statement runs long: pages and ranges by WIPE positions (a piece of pages
 * holds about that many events), other tables by WIPE rows.
 */
export async function wipe(db: SqlExecutor, log: string, tables: readonly LogTable[]): Promise<void> {
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
