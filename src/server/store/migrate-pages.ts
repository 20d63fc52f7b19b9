import { buildPages, clientRanges, pageParams, pageRowsSql, rangeParams, rangeRowsSql, type ClientRange } from './pages.ts';
import type { SqlExecutor } from './sql-driver.ts';

/**
 * Schema 4 -> 5: every row of chronicle_events into pages, event ids,
 * aggregate heads and client ranges (schema.ts), then chronicle_events
 * dropped. An older server still running then fails its reads on the missing
 * table, which it explains as a schema mismatch: 503, never events served
 * from a table no one writes any more.
 *
 * It walks each log in windows of at most MOVE_WINDOW events and about
 * WINDOW_CHARS of their text, and every statement touches one window: a
 * statement over a whole large table would outlast the store's
 * statement_timeout (10 s by default) and fail the migration, and the windows
 * let a long migration say how far it is. Pages are cut by pages.ts as a write
 * cuts them, over the whole log, and ranges by the same clientRanges, cut at
 * MOVE_RANGE_IDS: what a window leaves open (a page not full yet, a client's
 * run not ended) waits for the next window.
 */

/** How far a migration is: events moved so far (all logs), and the log it is in. */
export interface MigrationProgress {
  fromVersion: number;
  toVersion: number;
  events: number;
  log: string;
}

export type MigrationProgressListener = (progress: MigrationProgress) => void;

/** Events per window at most: each statement of the move reads or writes at most this many. */
export const MOVE_WINDOW = 10_000;
/** Events of the first window of a log: small, since nothing is known yet of how large its events are. */
const FIRST_WINDOW = 100;
/**
 * Characters of event text a window aims at, and that one statement inserting
 * pages holds at most (unless one page alone is larger): events may be up to
 * 256 KiB each, and a window of 10,000 of those would outlast statement_timeout
 * and pass V8's longest string. The next window's size follows the last one's
 * average event.
 */
const WINDOW_CHARS = 4 << 20;
/**
 * Ids per migrated client range at most: a log written by one client is one
 * run, and a range holding all of it would be read whole (all its ids) by the
 * first push of that client after the upgrade. Ranges may cut a run anywhere
 * (they only need to partition the positions).
 */
export const MOVE_RANGE_IDS = 1000;

interface V4Row {
  position: string | number;
  id: string;
  client_id: string;
  client_seq: string | number;
  event: string;
}

/** Every log that has events: one index probe per log (a loose scan), not a pass over every event. */
const LOGS_SQL = `
WITH RECURSIVE logs(log) AS (
  SELECT min(log) FROM chronicle_events
  UNION ALL
  SELECT (SELECT min(e.log) FROM chronicle_events e WHERE e.log > logs.log) FROM logs WHERE logs.log IS NOT NULL
)
SELECT log FROM logs WHERE log IS NOT NULL`;

const WINDOW_SQL = `SELECT position, id, client_id, client_seq, event::text AS event FROM chronicle_events
  WHERE log = $1 AND position > $2::bigint ORDER BY position LIMIT $3::int`;

const IDS_SQL = `INSERT INTO chronicle_event_ids (log, id, position)
  SELECT log, id, position FROM chronicle_events WHERE log = $1 AND position > $2::bigint AND position <= $3::bigint`;

const HEADS_SQL = `INSERT INTO chronicle_heads (log, aggregate_id, head)
  SELECT log, aggregate_id, max(seq) FROM chronicle_events
   WHERE log = $1 AND position > $2::bigint AND position <= $3::bigint GROUP BY log, aggregate_id
  ON CONFLICT (log, aggregate_id) DO UPDATE SET head = GREATEST(chronicle_heads.head, EXCLUDED.head)`;

const PAGES_SQL = `INSERT INTO chronicle_pages (log, first_position, last_position, events, ends)
  SELECT $1, r.f::bigint, r.l::bigint, r.t, r.e::int4[] FROM ${pageRowsSql(2)}`;

const RANGES_SQL = `INSERT INTO chronicle_ranges (log, client_id, from_seq, to_seq, first_position, ids)
  SELECT $1, r.c, r.f::bigint, r.t::bigint, r.p::bigint, r.i::text FROM ${rangeRowsSql(2)}`;

/** Moves one log's events; returns how many. */
async function moveLog(tx: SqlExecutor, log: string, onWindow: (events: number) => void): Promise<number> {
  let after = 0;
  let moved = 0;
  // What a window leaves open: the events of a page not full yet, and the rows of a client's run not ended.
  let pageFirst = 1;
  let pageTexts: string[] = [];
  let openRows: { position: number; clientId: string; clientSeq: number; id: string }[] = [];
  const flushPages = async (all: boolean): Promise<void> => {
    const pages = buildPages(pageFirst, pageTexts);
    const done = all ? pages : pages.slice(0, -1);
    // Statements of at most WINDOW_CHARS of text (a page larger than that alone).
    for (let start = 0; start < done.length;) {
      let end = start + 1;
      let chars = done[start]!.events.length;
      while (end < done.length && chars + done[end]!.events.length <= WINDOW_CHARS) chars += done[end++]!.events.length;
      await tx.query(PAGES_SQL, [log, ...pageParams(done.slice(start, end))]);
      start = end;
    }
    // The last page stays open (unless all is flushed): the next window may fill it up.
    const rest = all ? undefined : pages[pages.length - 1];
    if (rest) {
      pageTexts = pageTexts.slice(rest.first - pageFirst);
      pageFirst = rest.first;
    } else {
      pageFirst += pageTexts.length;
      pageTexts = [];
    }
  };
  const flushRanges = async (all: boolean): Promise<void> => {
    const ranges = capRanges(clientRanges(openRows), MOVE_RANGE_IDS);
    const done = all ? ranges : ranges.slice(0, -1);
    if (done.length > 0) await tx.query(RANGES_SQL, [log, ...rangeParams(done)]);
    // The last range stays open (unless all is flushed): the client's run may go on in the next window.
    openRows = all ? [] : openRows.slice(openRows.length - ranges[ranges.length - 1]!.ids.length);
  };
  let window = FIRST_WINDOW;
  for (;;) {
    const rows = await tx.query<V4Row>(WINDOW_SQL, [log, after, window]);
    if (rows.length === 0) break;
    const last = Number(rows[rows.length - 1]!.position);
    await tx.query(IDS_SQL, [log, after, last]);
    await tx.query(HEADS_SQL, [log, after, last]);
    let chars = 0;
    for (const row of rows) {
      const position = Number(row.position);
      if (position !== pageFirst + pageTexts.length) {
        // Positions are gapless; should a stored log have a hole, its pages start again after it.
        await flushPages(true);
        pageFirst = position;
      }
      pageTexts.push(row.event);
      chars += row.event.length;
      openRows.push({ position, clientId: row.client_id, clientSeq: Number(row.client_seq), id: row.id });
    }
    await flushPages(false);
    await flushRanges(false);
    moved += rows.length;
    onWindow(rows.length);
    after = last;
    if (rows.length < window) break;
    window = Math.max(1, Math.min(MOVE_WINDOW, Math.floor(WINDOW_CHARS / Math.max(1, chars / rows.length))));
  }
  await flushPages(true);
  await flushRanges(true);
  return moved;
}

/** Ranges cut so that none holds more than `max` ids. */
function capRanges(ranges: readonly ClientRange[], max: number): ClientRange[] {
  const out: ClientRange[] = [];
  for (const range of ranges) {
    for (let k = 0; k < range.ids.length; k += max) {
      const ids = range.ids.slice(k, k + max);
      out.push({ clientId: range.clientId, from: range.from + k, to: range.from + k + ids.length - 1, first: range.first + k, ids });
    }
  }
  return out;
}

/** The 4 -> 5 step of schema.ts's migration, in its transaction. */
export async function moveEventsIntoPages(tx: SqlExecutor, onProgress?: MigrationProgressListener): Promise<void> {
  const exists = await tx.query<{ t: string | null }>(`SELECT to_regclass('chronicle_events')::text AS t`);
  if (!exists[0]?.t) return;
  let events = 0;
  for (const { log } of await tx.query<{ log: string }>(LOGS_SQL)) {
    await moveLog(tx, log, (count) => {
      events += count;
      onProgress?.({ fromVersion: 4, toVersion: 5, events, log });
    });
  }
  await tx.query('DROP TABLE chronicle_events');
}
