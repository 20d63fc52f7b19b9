import { refuse } from './log-move-error.ts';
import { CLIENTS, EVENT_IDS, HEADS, keyOf, keyRange, PAGES, RANGES, type LogTable } from './log-tables.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import { num } from './statements.ts';

/**
 * Step 4 of a log move (log-move.ts): the checksums each database computes
 * of the log's rows, compared side by side, so that a copy that differs from
 * the source in any column is found before the target serves the log.
 */

/** Positions per page checksum, and rows per checksum of the other tables. */
const CHUNK = 10_000;

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
export async function verify(source: SqlDriver, target: SqlDriver, log: string, head: number, full: boolean): Promise<number> {
  const upTo = full ? null : head;
  const chunks = await comparePages(source, target, log, head, upTo);
  for (const t of [EVENT_IDS, HEADS, RANGES, CLIENTS]) {
    if (full || t.position) await compareRows(source, target, t, log, upTo);
  }
  return chunks;
}
