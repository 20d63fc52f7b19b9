import { refuse } from './log-move-error.ts';
import { insertSql, keyOf, keyRange, LOG_TABLES, PAGES, selectColumns, type LogTable } from './log-tables.ts';
import type { SqlDriver } from './sql-driver.ts';
import { num } from './statements.ts';

/**
 * Step 3 of a log move (log-move.ts): the copy of the log's rows from the
 * source to the target, table by table in key order, in batches bounded by
 * events and bytes, each one target transaction.
 */

/**
 * How the copy reports its progress: MoveLogOptions.onStep (log-move.ts), of
 * which it sends only the 'copying' step; named here so that this file need
 * not import the orchestration that imports it.
 */
type OnCopying = (step: { step: 'copying'; copied: number; head: number }) => void | PromiseLike<unknown>;

/** One copy: both sides, the log, the move's id (the target's write id while it moves in, which each batch checks) and the batch bounds. */
export type CopyContext = { source: SqlDriver; target: SqlDriver; log: string; moveId: string; batchEvents: number; batchBytes: number };

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

/** Copies the log's rows (step 3): pages first, reporting each batch; returns the client rows the target holds. */
export async function copyLog(c: CopyContext, head: number, onStep: OnCopying | undefined): Promise<number> {
  await copyTable(c, PAGES, async (last) => {
    await onStep?.({ step: 'copying', copied: num(last.last_position), head });
  });
  for (const t of LOG_TABLES) if (t !== PAGES) await copyTable(c, t);
  const rows = await c.target.query<{ n: string | number }>('SELECT count(*) AS n FROM chronicle_clients WHERE log = $1', [c.log]);
  return num(rows[0]?.n);
}
