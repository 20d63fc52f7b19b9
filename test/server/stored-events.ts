import { buildPages, eventsOfPage, parseEnds } from '../../src/server/store/pages.ts';

/**
 * The events a reference store (PostgreSQL or PGlite, schema 5) holds for a
 * log, read and changed straight in its tables, for tests that count them or
 * tamper with them. Since schema 5 an event is not a row: it is a slice of a
 * page (`chronicle_pages`, see src/server/store/pages.ts), so these helpers
 * do what `SELECT ... FROM chronicle_events` and `UPDATE chronicle_events`
 * did. They touch only the pages: an event's id, aggregate head and client
 * range live in chronicle_event_ids, chronicle_heads and chronicle_ranges.
 */

/**
 * Where the statements run: a store's SqlDriver (its query returns the rows),
 * or a node-postgres Client or Pool (its query returns a result with `rows`).
 */
export interface StoredEventsDb {
  query(text: string, params: unknown[]): Promise<unknown>;
}

async function rowsOf<R>(db: StoredEventsDb, text: string, params: unknown[]): Promise<R[]> {
  const result = await db.query(text, params);
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as R[];
}

/** How many events the log's pages hold (the positions they cover). */
export async function storedEventCount(db: StoredEventsDb, log: string): Promise<number> {
  const rows = await rowsOf<{ n: string | number | null }>(
    db,
    'SELECT coalesce(sum(last_position - first_position + 1), 0) AS n FROM chronicle_pages WHERE log = $1',
    [log],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Every stored event of the log in position order: its position and its
 * stored JSON text, exactly as the page holds it (with `"position"` in it).
 * Throws when a page's `ends` do not fit its text.
 */
export async function storedEvents(db: StoredEventsDb, log: string): Promise<{ position: number; json: string }[]> {
  const pages = await rowsOf<{ first: string | number; events: string; ends: string }>(
    db,
    `SELECT first_position AS first, events, array_to_string(ends, ',') AS ends FROM chronicle_pages WHERE log = $1 ORDER BY first_position`,
    [log],
  );
  const events: { position: number; json: string }[] = [];
  for (const page of pages) {
    const first = Number(page.first);
    const texts: string[] = [];
    eventsOfPage({ first, events: page.events, ends: parseEnds(page.ends) }, first - 1, Number.MAX_SAFE_INTEGER, texts);
    texts.forEach((json, i) => events.push({ position: first + i, json }));
  }
  return events;
}

/**
 * Replaces the stored text of the event at `position` with `json` (taken as
 * it is: no check that it is JSON, nor that it keeps its id or position),
 * inside the page that holds it, and fixes that page's `ends` so that the
 * page still reads back. Throws when no page holds the position.
 */
export async function rewriteStoredEvent(db: StoredEventsDb, log: string, position: number, json: string): Promise<void> {
  const [page] = await rowsOf<{ first: string | number; last: string | number; events: string; ends: string }>(
    db,
    `SELECT first_position AS first, last_position AS last, events, array_to_string(ends, ',') AS ends FROM chronicle_pages
      WHERE log = $1 AND first_position <= $2::bigint AND last_position >= $2::bigint`,
    [log, position],
  );
  if (!page) throw new Error(`no page of log "${log}" holds position ${position}`);
  const first = Number(page.first);
  const texts: string[] = [];
  eventsOfPage({ first, events: page.events, ends: parseEnds(page.ends) }, first - 1, Number(page.last), texts);
  texts[position - first] = json;
  // One page, whatever its size: the page keeps its positions, only its text and ends change.
  const [rebuilt] = buildPages(first, texts, texts.length, Number.MAX_SAFE_INTEGER);
  await db.query('UPDATE chronicle_pages SET events = $3, ends = $4::int4[] WHERE log = $1 AND first_position = $2::bigint', [
    log,
    first,
    rebuilt!.events,
    `{${rebuilt!.ends.join(',')}}`,
  ]);
}
