/**
 * Places in the log and the rules that order them: one definition for the
 * engine, the client and devtools. Pure functions, no I/O.
 *
 * The log is stored in pages keyed [area, n]: area 0 holds confirmed events
 * (n = the first position in the page), area 1 pending ones (n = a local
 * sequence number, "lsn", never reused). Key order is log order.
 */

/**
 * The place of one event in the log: its page and its index within the page
 * as the page was first written. A pending page that loses events (the sync
 * confirmed some, a rebase dropped one, the server refused one) keeps the
 * indexes of the events left (see slotOf), so a place taken before still
 * names the same event.
 */
export interface LogCursor {
  area: number;
  page: number;
  index: number;
}

/**
 * The end of the log at one moment: the highest confirmed position stored and
 * the next pending page number. An event stored later lies beyond both.
 */
export interface LogEnd {
  confirmedHead: number;
  nextLsn: number;
}

/** Orders two places in the log: negative if a comes first, 0 if they are the same. */
export function compareCursor(a: LogCursor, b: LogCursor): number {
  return a.area - b.area || a.page - b.page || a.index - b.index;
}

export function sameCursor(a: LogCursor | null | undefined, b: LogCursor | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return compareCursor(a, b) === 0;
}

/** True when `cursor` lies after `after` in log order (everything lies after null). */
export function isAfter(cursor: LogCursor, after: LogCursor | null | undefined): boolean {
  return !after || compareCursor(cursor, after) > 0;
}

/** The confirmed position of a place in the confirmed area (a page's key is its first position). */
export function confirmedPositionOf(cursor: LogCursor): number {
  return cursor.page + cursor.index;
}

/**
 * True when an event was stored after the log stood at `end`: a confirmed
 * event has a higher position, a pending one a page allocated since. Pending
 * pages are never reused or extended and positions only grow, so this holds
 * whatever happened in between (a sync, a rebase).
 */
export function storedAfter(cursor: LogCursor, position: number | undefined, end: LogEnd): boolean {
  if (cursor.area === 0) return (position ?? confirmedPositionOf(cursor)) > end.confirmedHead;
  return cursor.page >= end.nextLsn;
}

/** The later of two log ends, field by field (each only grows). */
export function laterEnd(a: LogEnd, b: LogEnd): LogEnd {
  return { confirmedHead: Math.max(a.confirmedHead, b.confirmedHead), nextLsn: Math.max(a.nextLsn, b.nextLsn) };
}

/** A cursor just before the first pending event stored after `end` (a scan "after" it starts there). */
export function pendingStartOf(end: LogEnd): LogCursor {
  return { area: 1, page: end.nextLsn - 1, index: Number.MAX_SAFE_INTEGER };
}

/**
 * The cursor index of a page's `i`-th stored event: its index when the page
 * was first written. `slots` lists them for a pending page that lost events
 * since; absent (every other page, and pages stored before slots were kept),
 * the events are at 0, 1, 2, ...
 */
export function slotOf(page: { slots?: readonly number[] | undefined }, i: number): number {
  return page.slots?.[i] ?? i;
}

/** The cursor of a page's last event: a read "after" it starts at the next page. */
export function pageEndCursor(page: { area: number; page: number; count: number; slots?: readonly number[] | undefined }): LogCursor {
  return { area: page.area, page: page.page, index: slotOf(page, page.count - 1) };
}
