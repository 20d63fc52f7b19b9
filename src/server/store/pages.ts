/**
 * How the reference store keeps events: in pages, rows that each hold the
 * stored JSON of consecutive positions (schema 5, schema.ts). A write stores
 * its events as a few pages instead of one row per event, and the per-event
 * index work is one small (log, id) entry; that is what lets a push cost
 * about what plain INSERTs of the same rows do (bench/server-index-probe.ts).
 *
 * A page's `events` is the events' texts joined by ','; `ends` says where
 * each one ends (exclusive, in UTF-16 code units, i.e. JavaScript string
 * offsets: only this module reads and writes them). Pure: no I/O.
 */

/** Events per page at most: a pull of the default 1000 reads at most two pages (one, from a multiple of 1000). */
export const PAGE_EVENTS = 1000;
/** Characters per page at most, unless one event alone is larger: bounds what a pull of a few events reads. */
export const PAGE_CHARS = 1 << 20;

/** One page as stored: positions `first`..`last`. */
export interface Page {
  first: number;
  last: number;
  events: string;
  ends: number[];
}

/**
 * Cuts consecutive events (their stored texts, positions `first`, `first + 1`,
 * ...) into pages of at most PAGE_EVENTS events and PAGE_CHARS characters,
 * none crossing a multiple of PAGE_EVENTS: a client's initial sync pulls
 * 1,000 at a time from position 0, and so reads exactly the pages it needs.
 */
export function buildPages(first: number, texts: readonly string[], maxEvents = PAGE_EVENTS, maxChars = PAGE_CHARS): Page[] {
  const pages: Page[] = [];
  let start = 0;
  while (start < texts.length) {
    let end = start;
    let chars = 0;
    const ends: number[] = [];
    while (end < texts.length && end - start < maxEvents) {
      const size = texts[end]!.length + (end > start ? 1 : 0);
      if (end > start && chars + size > maxChars) break;
      // No page crosses a multiple of maxEvents: a pull of that many from such a position reads only its own events.
      if (end > start && (first + end - 1) % maxEvents === 0) break;
      chars += size;
      ends.push(chars);
      end++;
    }
    pages.push({ first: first + start, last: first + end - 1, events: texts.slice(start, end).join(','), ends });
    start = end;
  }
  return pages;
}

/** Parses `ends` as the pull reads it (array_to_string(ends, ',')). */
export function parseEnds(text: string): number[] {
  if (text === '') return [];
  const parts = text.split(',');
  const ends = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) ends[i] = Number(parts[i]);
  return ends;
}

/**
 * Appends to `out` the texts of the page's events at positions in
 * (`after`, `upTo`]. Throws when the page does not add up: every event must be
 * an object's text (`{`..`}`) ending where the next one's separator is, and
 * the last at the text's end. Stored pages are never guessed at: a damaged
 * one would otherwise be served as fragments of events. (One pass over the
 * ends, up to PAGE_EVENTS of them: small beside the text it guards.)
 */
export function eventsOfPage(
  page: { first: number; events: string; ends: readonly number[] },
  after: number,
  upTo: number,
  out: string[],
): void {
  const { first, events, ends } = page;
  const damaged = (): Error => new Error(`the page at position ${first} is damaged: its ends do not match its text`);
  if (ends.length === 0 || ends[ends.length - 1] !== events.length) throw damaged();
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    if (!(end > start + 1) || events.charCodeAt(start) !== 0x7b || events.charCodeAt(end - 1) !== 0x7d) throw damaged();
    if (i < ends.length - 1 && events.charCodeAt(end) !== 0x2c) throw damaged();
    start = end + 1;
  }
  const from = Math.max(0, after + 1 - first);
  const to = Math.min(ends.length, upTo - first + 1);
  for (let i = from; i < to; i++) {
    const begin = i === 0 ? 0 : ends[i - 1]! + 1;
    out.push(events.slice(begin, ends[i]!));
  }
}

/** A run of one client's events in a write: clientSeqs `from`..`to` at positions `first`..; their ids in order. */
export interface ClientRange {
  clientId: string;
  from: number;
  to: number;
  first: number;
  ids: string[];
}

/**
 * The client ranges of a write's rows (in position order): a new range
 * wherever the client changes or its clientSeq or the position does not go
 * on by one. The store reads a stored clientSeq's event and an id's client
 * from them.
 */
export function clientRanges(rows: readonly { position: number; clientId: string; clientSeq: number; id: string }[]): ClientRange[] {
  const ranges: ClientRange[] = [];
  let current: ClientRange | undefined;
  let lastPosition = 0;
  for (const row of rows) {
    if (current && row.clientId === current.clientId && row.clientSeq === current.to + 1 && row.position === lastPosition + 1) {
      current.to = row.clientSeq;
      current.ids.push(row.id);
    } else {
      current = { clientId: row.clientId, from: row.clientSeq, to: row.clientSeq, first: row.position, ids: [row.id] };
      ranges.push(current);
    }
    lastPosition = row.position;
  }
  return ranges;
}

/** Ranges as the statements that insert them take them: five JSON arrays (clients, froms, tos, first positions, ids). */
export function rangeParams(ranges: readonly ClientRange[]): [string, string, string, string, string] {
  return [
    JSON.stringify(ranges.map((r) => r.clientId)),
    JSON.stringify(ranges.map((r) => r.from)),
    JSON.stringify(ranges.map((r) => r.to)),
    JSON.stringify(ranges.map((r) => r.first)),
    JSON.stringify(ranges.map((r) => r.ids)),
  ];
}

/** The rows (c, f, t, p, i) of rangeParams bound at $a .. $a+4: client, from, to, first position, ids (as JSON text). */
export function rangeRowsSql(a: number): string {
  return `ROWS FROM (
      json_array_elements_text($${a}::json), json_array_elements_text($${a + 1}::json), json_array_elements_text($${a + 2}::json),
      json_array_elements_text($${a + 3}::json), json_array_elements($${a + 4}::json)
    ) AS r(c, f, t, p, i)`;
}

/** Per aggregate of a write's rows (in order): the last seq, i.e. the head the write leaves it at. */
export function lastSeqs(rows: readonly { aggregateId: string; seq: number }[]): Map<string, number> {
  const heads = new Map<string, number>();
  for (const row of rows) heads.set(row.aggregateId, row.seq);
  return heads;
}

/**
 * Between two pages' texts in PAGE_TEXTS: a comma and U+0001, which no
 * stored event's JSON holds (a control character is escaped in every JSON
 * string and is not JSON whitespace), so the texts need no escaping.
 */
export const PAGE_SEPARATOR = ',\u0001';

/**
 * Pages as the statements that insert them take them: the first and last
 * positions and the ends (as int4[] literals) as JSON arrays, and the texts
 * as one string, PAGE_SEPARATOR between them (unescaped: JSON-quoting a page
 * costs more than storing it). Read side by side with ROWS FROM, the texts
 * with unnest(string_to_array(texts, PAGE_SEPARATOR)) (see PAGE_ROWS_SQL).
 */
export function pageParams(pages: readonly Page[]): [string, string, string, string] {
  return [
    JSON.stringify(pages.map((p) => p.first)),
    JSON.stringify(pages.map((p) => p.last)),
    pages.map((p) => p.events).join(PAGE_SEPARATOR),
    JSON.stringify(pages.map((p) => `{${p.ends.join(',')}}`)),
  ];
}

/**
 * The rows (f, l, t, e) of pageParams bound at $a, $a+1, $a+2, $a+3: first and
 * last position, text, ends.
 */
export function pageRowsSql(a: number): string {
  return `ROWS FROM (
      json_array_elements_text($${a}::json), json_array_elements_text($${a + 1}::json),
      unnest(string_to_array($${a + 2}::text, ',' || chr(1))), json_array_elements_text($${a + 3}::json)
    ) AS r(f, l, t, e)`;
}
