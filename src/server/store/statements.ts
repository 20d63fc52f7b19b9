import { pageRowsSql, rangeRowsSql } from './pages.ts';
import { SCHEMA_VERSION } from './schema.ts';

/**
 * The SQL statements of the log store (PostgreSQL's dialect; PGlite runs the
 * same), and the small helpers that build their parameters. Every parameter
 * that is a list travels as one JSON text (json_array_elements,
 * json_to_recordset) so both drivers bind the same scalar parameters.
 */

/** One row of READ_SQL: `k` says what it is (see there). */
export interface ReadRow {
  k: 'h' | 'c' | 'd' | 'i' | 'a';
  a: string | null;
  n: string | number | null;
  id: string | null;
  p: string | number | null;
}

export const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

/** The stored JSON of an event: its pushed JSON with `position` appended (what JSON.stringify({ ...event, position }) gives). */
export const withPosition = (json: string, position: number): string => `${json.slice(0, -1)},"position":${position}}`;

/**
 * One read, one statement (one snapshot): the log head, last write id and move
 * state ('h', `a` = "state peer" while the log is in a move; no row for a log
 * never pushed to), the clients' high-water marks and epochs ('c'), the
 * stored events of the pushed clientSeq ranges ('d', from the client ranges:
 * the range holding `from`, found by one probe, and the ones after it up to
 * `to`), stored events with the pushed ids ('i', the client and clientSeq
 * from the range holding the position) and the aggregate heads ('a'). Each
 * key is one index probe (LATERAL ... LIMIT 1 keeps the planner from
 * scanning a whole log's rows whatever its statistics say).
 */
export const READ_SQL = `
SELECT 'h' AS k, CASE WHEN move_state IS NOT NULL THEN move_state || ' ' || coalesce(move_peer, '') END AS a,
       head AS n, write_id AS id, NULL::bigint AS p
  FROM chronicle_logs WHERE log = $1
UNION ALL
SELECT 'c', x.v, c.client_seq, NULL, c.epoch
  FROM json_array_elements_text($2::json) AS x(v)
  CROSS JOIN LATERAL (SELECT client_seq, epoch FROM chronicle_clients WHERE log = $1 AND client_id = x.v LIMIT 1) c
UNION ALL
SELECT 'd', r.c, g.from_seq + x.n - 1, x.id, g.first_position + x.n - 1
  FROM json_to_recordset($3::json) AS r(c text, f bigint, t bigint)
  JOIN chronicle_ranges g ON g.log = $1 AND g.client_id = r.c AND g.from_seq <= r.t
   AND g.from_seq >= coalesce(
         (SELECT max(from_seq) FROM chronicle_ranges WHERE log = $1 AND client_id = r.c AND from_seq <= r.f), r.f)
  CROSS JOIN LATERAL json_array_elements_text(g.ids::json) WITH ORDINALITY AS x(id, n)
 WHERE g.from_seq + x.n - 1 BETWEEN r.f AND r.t
UNION ALL
SELECT 'i', g.client_id, g.from_seq + (e.position - g.first_position), x.v, e.position
  FROM json_array_elements_text($4::json) AS x(v)
  CROSS JOIN LATERAL (SELECT position FROM chronicle_event_ids WHERE log = $1 AND id = x.v LIMIT 1) e
  LEFT JOIN LATERAL (
    SELECT client_id, from_seq, first_position FROM chronicle_ranges
     WHERE log = $1 AND first_position <= e.position ORDER BY first_position DESC LIMIT 1
  ) g ON true
UNION ALL
SELECT 'a', x.v, g.head, NULL, NULL
  FROM json_array_elements_text($5::json) AS x(v)
  CROSS JOIN LATERAL (SELECT head FROM chronicle_heads WHERE log = $1 AND aggregate_id = x.v LIMIT 1) g`;

/** The first key of the transaction-scoped advisory locks that order a process's chained writes ("chr"). */
export const TICKET_CLASS = 0x636872;
/** The longest a write waits for a lock before its events are in (see writeSql). */
export const INSERT_LOCK_TIMEOUT = '50ms';

/**
 * The write, one statement, hence one transaction (all or nothing):
 *
 * 1. `tk`: take this write's ticket, a transaction-scoped advisory lock ($22)
 *    that a write sent behind it waits for (`wt`) before it locks the log.
 * 2. `ev`, `ix`: insert the events' pages (positions $2 + 1, $2 + 2, ...) and
 *    their ids.
 * 3. `wt`, `lk`: then wait for the write this one was judged behind ($23, when
 *    given) to end, and lock the log's row, seeing it as the last write left it.
 * 4. `ok`: the head under the lock is still the one the pushes were judged
 *    against ($2), the last write (or fence) is still the one they were judged
 *    after ($19, null for none), and the database is at this server's schema
 *    version. If not, the final SELECT divides by zero: the statement fails
 *    (22012) and nothing of it stays.
 * 5. Under the lock: the aggregate heads, the client ranges, the clients'
 *    marks and epochs, the log head and the write id ($20), and (PostgreSQL)
 *    the NOTIFY sent at commit. (Heads are rows another write may update: under
 *    the lock, a write never waits on them for a write it was not judged behind.)
 *    Heads are UPDATEd where their rows are in the statement's snapshot, and
 *    upserted otherwise: an upsert locks each row it takes over before it
 *    updates it, and a push touches up to one head per event (server-push's
 *    ~216 per 500 events: about 5 % less WAL than upserting them all, per
 *    bench/server-cpu-probe.ts on 2026-12-05).
 *    The upsert also takes over a head row that the write this one followed
 *    inserted after this statement's snapshot was taken.
 *
 * Positions are visible in commit order: the pages are written before the
 * lock, but no one sees them before the statement commits, which it does
 * holding the lock, after the write it was judged behind committed (and only
 * if that one did: its write id). Inserting first lets a write that waits for
 * its predecessor do its index work meanwhile.
 *
 * No deadlock: until the events are in (1 and 2), lock waits are bounded
 * (`lock_timeout`, transaction-local, restored for 3). Such a wait means a
 * ticket taken by chance by another process, or a row (page, id) inserted by
 * a write judged on a stale state, which will fail; the statement then fails
 * (55P03) and the slow path decides. The waits for a ticket or the log's row
 * are for writes that hold no wait on rows themselves; they are bounded only
 * by the session's lock_timeout. A row another write has committed makes the
 * insert fail (23505): nothing is written and the slow path judges the pushes
 * again.
 *
 * Lists travel as JSON arrays (json_array_elements keeps each element's text
 * as it is): $3 the ids; $4-$7 the pages (pages.ts); $8-$9 the heads; $10-$14
 * the client ranges; $15-$17 the changed clients; $18 the new head; $21 the
 * number of events.
 */
export function writeSql(notify: boolean): string {
  return `
WITH pv AS (
  SELECT current_setting('lock_timeout') AS v
), tm AS (
  SELECT set_config('lock_timeout', '${INSERT_LOCK_TIMEOUT}', true) AS t FROM pv
), tk AS (
  SELECT pg_advisory_xact_lock(${TICKET_CLASS}, $22::int) FROM tm
), ev AS (
  INSERT INTO chronicle_pages (log, first_position, last_position, events, ends)
  SELECT $1, r.f::bigint, r.l::bigint, r.t, r.e::int4[]
    FROM ${pageRowsSql(4)}
   WHERE (SELECT count(*) FROM tk) = 1
  RETURNING 1
), ix AS (
  INSERT INTO chronicle_event_ids (log, id, position)
  SELECT $1, x.id, $2::bigint + x.n
    FROM json_array_elements_text($3::json) WITH ORDINALITY AS x(id, n)
   WHERE (SELECT count(*) FROM tk) = 1
  RETURNING 1
), rs AS (
  SELECT set_config('lock_timeout', pv.v, true) AS t FROM pv
   WHERE (SELECT count(*) FROM ix) = $21::bigint AND (SELECT count(*) FROM ev) = json_array_length($4::json)
), wt AS (
  SELECT pg_advisory_xact_lock_shared(${TICKET_CLASS}, $23::int) FROM rs WHERE $23::int IS NOT NULL
), lk AS (
  SELECT head, write_id FROM chronicle_logs
   WHERE log = $1 AND (SELECT count(*) FROM rs) = 1 AND (SELECT count(*) FROM wt) >= 0
     FOR UPDATE
), ok AS (
  SELECT 1 AS one FROM lk
   WHERE head = $2::bigint AND write_id IS NOT DISTINCT FROM $19::text
     AND (SELECT version FROM chronicle_schema LIMIT 1) = ${SCHEMA_VERSION}
), hv AS (
  SELECT r.a, r.s::bigint AS s
    FROM ok, ROWS FROM (json_array_elements_text($8::json), json_array_elements_text($9::json)) AS r(a, s)
), hu AS (
  UPDATE chronicle_heads h SET head = hv.s FROM hv
   WHERE h.log = $1 AND h.aggregate_id = hv.a
  RETURNING h.aggregate_id
), hi AS (
  INSERT INTO chronicle_heads (log, aggregate_id, head)
  SELECT $1, hv.a, hv.s FROM hv WHERE hv.a NOT IN (SELECT aggregate_id FROM hu)
  ON CONFLICT (log, aggregate_id) DO UPDATE SET head = EXCLUDED.head
  RETURNING 1
), rg AS (
  INSERT INTO chronicle_ranges (log, client_id, from_seq, to_seq, first_position, ids)
  SELECT $1, r.c, r.f::bigint, r.t::bigint, r.p::bigint, r.i::text
    FROM ok, ${rangeRowsSql(10)}
  RETURNING 1
), cl AS (
  INSERT INTO chronicle_clients (log, client_id, client_seq, epoch)
  SELECT $1, r.c, r.q::bigint, r.p::bigint
    FROM ok, ROWS FROM (json_array_elements_text($15::json), json_array_elements_text($16::json), json_array_elements_text($17::json)) AS r(c, q, p)
  ON CONFLICT (log, client_id) DO UPDATE SET client_seq = EXCLUDED.client_seq, epoch = GREATEST(chronicle_clients.epoch, EXCLUDED.epoch)
  RETURNING 1
), lg AS (
  UPDATE chronicle_logs SET head = $18::bigint, write_id = $20::text WHERE log = $1 AND EXISTS (SELECT 1 FROM ok)
  RETURNING 1
)
SELECT (SELECT count(*) FROM ix) AS n, (SELECT count(*) FROM lg) AS l,
       (SELECT count(*) FROM hu) + (SELECT count(*) FROM hi) AS h, (SELECT count(*) FROM rg) AS g,
       1 / (SELECT count(*) FROM ok) AS checked${notify ? ', pg_notify($24, $25) AS notified' : ''}`;
}

/**
 * How a write that wrote nothing failed, by SQLSTATE: its check under the lock
 * (division_by_zero, see writeSql), a bounded lock wait (lock_not_available), a
 * deadlock (deadlock_detected, should bounded waits ever not suffice), or a row
 * someone else committed first (unique_violation).
 */
export function writeFailure(error: unknown): 'moved' | 'blocked' | 'taken' | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '22012') return 'moved';
  if (code === '55P03' || code === '40P01') return 'blocked';
  if (code === '23505') return 'taken';
  return undefined;
}

/** Creates a log's row (head 0) unless it exists. */
export const INSERT_LOG_SQL = 'INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING';

/** The slow path's lock: one writer per log. */
export const LOCK_LOG_SQL = 'SELECT head, move_state, move_peer FROM chronicle_logs WHERE log = $1 FOR UPDATE';

/**
 * A pull: one statement, hence one snapshot, so the head is >= every returned
 * position (and the log's move state, which decides whether it may be
 * served). The pages that hold positions after + 1 .. after + limit: the one
 * holding after + 1 (one probe for it), then every page that starts in the
 * range; the caller takes the positions it asked for out of them (pages.ts).
 * The range bounds the scan, whatever the planner makes of the table's
 * statistics; a page that ends at or before `after` is not read (a pull at
 * the head reads no page). Pages stop once those before hold $5 bytes
 * (octet_length reads a stored value's size without decompressing it):
 * pages hold up to 1 MiB of events, or one event alone when it is larger, so
 * 5,000 events near the per-event limit would otherwise make a reply of over
 * a gigabyte, more than a JavaScript string can hold.
 */
export const PULL_SQL = `SELECT l.head, l.move_state, l.move_peer, c.client_seq, p.first_position, p.events, p.ends, p.through_bytes
   FROM (SELECT 1) AS one
   LEFT JOIN chronicle_logs l ON l.log = $1
   LEFT JOIN chronicle_clients c ON c.log = $1 AND c.client_id = $4::text
   LEFT JOIN LATERAL (
     SELECT first_position, events, ends, through_bytes FROM (
       SELECT first_position, events, array_to_string(ends, ',') AS ends, octet_length(events) AS own_bytes,
              sum(octet_length(events)) OVER (ORDER BY first_position) AS through_bytes
         FROM chronicle_pages
        WHERE log = $1 AND last_position > $2::bigint AND first_position <= $2::bigint + $3::int
          AND first_position >= coalesce(
                (SELECT max(first_position) FROM chronicle_pages WHERE log = $1 AND first_position <= $2::bigint + 1), 0)
     ) sized
      WHERE through_bytes - own_bytes < $5::bigint
      ORDER BY first_position
   ) p ON true
  ORDER BY p.first_position`;

/**
 * A fence, under the log's lock (the caller holds it): raise the client's epoch
 * (never lower it), and give the log a new write id, so that every fast write
 * judged before the fence fails its check (writeSql step 4) and is judged again
 * under the lock, against the new epoch. Returns the epoch and the mark.
 */
export const FENCE_SQL = `
WITH cl AS (
  INSERT INTO chronicle_clients (log, client_id, client_seq, epoch) VALUES ($1, $2, 0, $3::bigint)
  ON CONFLICT (log, client_id) DO UPDATE SET epoch = GREATEST(chronicle_clients.epoch, EXCLUDED.epoch)
  RETURNING client_seq, epoch
), lg AS (
  UPDATE chronicle_logs SET write_id = $4::text WHERE log = $1 RETURNING 1
)
SELECT cl.client_seq, cl.epoch, (SELECT count(*) FROM lg) AS l FROM cl`;
