import type { SqlExecutor } from './sql-driver.ts';

/**
 * The columns that hold many events' text a row: a page's JSON and its
 * offsets, a range's ids. Each value is tens to hundreds of kB, so PostgreSQL
 * compresses every one as it is written (TOAST). Its default method, pglz,
 * costs about as much CPU as the rest of the write: server-push measured
 * 0.47-0.48 of plain INSERTs with pglz and 0.56-0.62 with lz4, alternating
 * runs on 2026-12-04 (`node bench/run.mjs --server --only server-push` in a
 * worktree of 619e7ab, before this file, and after it). lz4 compresses JSON a little
 * less tightly, several times faster, and decompresses faster for pulls.
 */
const PAGE_COLUMNS: readonly (readonly [table: string, column: string])[] = [
  ['chronicle_pages', 'events'],
  ['chronicle_pages', 'ends'],
  ['chronicle_ranges', 'ids'],
];

/**
 * Sets lz4 compression on the page columns where the server has it
 * (PostgreSQL built with lz4, as Debian's and the official images are;
 * PGlite is not, and keeps pglz). Only values written afterwards use it: the
 * ones already stored stay as they are and read the same, so servers of this
 * schema version that do not set it read and write the same tables.
 *
 * Runs in the migration's transaction, after the tables exist. A column that
 * already has it, or whose table this role does not own (the owner's start
 * sets it), is left alone, so a restart costs one catalog read and takes
 * no table lock; changing one takes a brief ACCESS EXCLUSIVE lock on its table,
 * once per database, waited for at most ALTER_LOCK_TIMEOUT. A server that does
 * not get that lock in time (SKIPPABLE) starts all the same.
 */
export async function preferLz4(tx: SqlExecutor): Promise<void> {
  const tables = PAGE_COLUMNS.map(([table]) => table);
  const columns = PAGE_COLUMNS.map(([, column]) => column);
  // The columns still without lz4, where the server has it (a build without lz4 does not list it among the
  // settings' values). to_regclass follows the search path: the tables this store uses, in whichever schema.
  const pending = await tx.query<{ table_name: string; column_name: string }>(
    `SELECT t.table_name, t.column_name
       FROM unnest($1::text[], $2::text[]) AS t(table_name, column_name)
       JOIN pg_attribute a ON a.attrelid = to_regclass(t.table_name) AND a.attname = t.column_name
       JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attcompression IS DISTINCT FROM 'l'
        -- Only the owner may ALTER a table: a role that only uses the tables leaves the method to the owner's start.
        AND pg_has_role(c.relowner, 'USAGE')
        AND EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`,
    [tables, columns],
  );
  if (pending.length === 0) return;
  // While the ALTER waits for its lock, every write to the table queues behind it: wait briefly, not for the
  // store's whole lock timeout (set back below; a rollback drops it anyway).
  const previous = await tx.query<{ value: string }>(`SELECT current_setting('lock_timeout') AS value`);
  await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [ALTER_LOCK_TIMEOUT]);
  for (const { table_name, column_name } of pending) {
    // A savepoint, so that a change that cannot be made now leaves the migration's transaction usable.
    await tx.query('SAVEPOINT chronicle_compression');
    try {
      // Names from PAGE_COLUMNS above, never from input.
      await tx.query(`ALTER TABLE ${table_name} ALTER COLUMN ${column_name} SET COMPRESSION lz4`);
      await tx.query('RELEASE SAVEPOINT chronicle_compression');
    } catch (error) {
      if (!SKIPPABLE.has((error as { code?: unknown } | null)?.code as string)) throw error;
      // Only speed is lost: the column keeps its method, and the next start tries again.
      await tx.query('ROLLBACK TO SAVEPOINT chronicle_compression');
    }
  }
  await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [previous[0]?.value ?? '0']);
}

/**
 * How long a start waits for a page table's lock to change its compression.
 * Writes hold it for the few milliseconds of their statement; the change takes
 * effect at once. Longer waits would hold every write queued behind it.
 */
const ALTER_LOCK_TIMEOUT = '200ms';

/**
 * Why a column's compression may stay as it is rather than fail the server's
 * start: the table's lock was not had in time from other servers still using
 * it (lock_not_available, deadlock_detected).
 */
const SKIPPABLE = new Set(['55P03', '40P01']);
