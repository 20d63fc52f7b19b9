import type { EncodedEvent } from '../src/core/registry.ts';
import { slotOf } from '../src/core/cursor.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { PageIndexRecord, PageRecord } from './db.ts';
import { idKeys } from './id-keys.ts';
import { rowJson } from './page-codec.ts';

/** A page and its index record, written under the same key. */
export interface BuiltPage {
  page: PageRecord;
  index: PageIndexRecord;
}

/**
 * A full page is just past Chromium's 64 KiB out-of-line threshold: a value
 * whose serialized form is larger is kept in a blob file of its own instead
 * of in LevelDB, and on disk such pages read 2-3x faster and write faster
 * than the same bytes in pages under it (bench/out-of-line-probe.mjs; full
 * replay ~15 % faster than with 60K pages, bench/HISTORY.md 2026-12-07).
 * Small enough that a scan's message of one page stays under 100 KB for
 * one-byte text (worker/scan-sessions.ts) and a load decodes little more
 * than it needs.
 */
export const MAX_PAGE_CHARS = 72 * 1024;
export const MAX_PAGE_EVENTS = 1000;

/** One event ready for a page: its JSON plus the facts the page indexes. */
export interface PageEntry {
  json: string;
  id: string;
  aggregateId: string;
  seq: number;
  occurredAt: number;
  /** Whether a local append could repeat this id (pending, or confirmed and ours). */
  indexId: boolean;
  /** The id was made by uuidv7() (the client says so): time-ordered, no need to test its shape. */
  generated?: boolean;
}

/**
 * The stored row JSON of a new local event (see page-codec.ts). The client
 * encoded `type, version, data, occurredAt`; the values assigned in the
 * transaction are spliced in around it, so the data is never parsed or
 * stringified twice.
 */
export function spliceEventJson(
  event: EncodedEvent,
  aggregateIdJson: string,
  aggregateTypeJson: string,
  seq: number,
  clientIdJson: string,
  clientSeq: number,
): string {
  const body = event.body;
  if (!body.startsWith('"') || (event.tail !== '' && !event.tail.startsWith(','))) {
    throw new TypeError('encoded event body is malformed (expected "type",version,data,occurredAt)');
  }
  return (
    `[${JSON.stringify(event.id)},${aggregateIdJson},${aggregateTypeJson},${seq},${body},` + `${clientIdJson},${clientSeq},0${event.tail}]`
  );
}

export function entryOf(event: StoredEvent, indexId: boolean): PageEntry {
  return {
    json: rowJson(event),
    id: event.id,
    aggregateId: event.aggregateId,
    seq: event.seq,
    occurredAt: event.meta.occurredAt,
    indexId,
  };
}

/** Cuts entries into runs of bounded size (one per page), preserving order. */
function cut(entries: readonly PageEntry[]): PageEntry[][] {
  const out: PageEntry[][] = [];
  let start = 0;
  while (start < entries.length) {
    let end = start;
    let chars = 2;
    while (end < entries.length && end - start < MAX_PAGE_EVENTS) {
      const next = entries[end]!.json.length + 1;
      if (end > start && chars + next > MAX_PAGE_CHARS) break;
      chars += next;
      end++;
    }
    out.push(entries.slice(start, end));
    start = end;
  }
  return out;
}

/** The record of one page: its events' JSON and time bounds. */
function recordOf(entries: readonly PageEntry[]): PageRecord {
  let t0 = Infinity;
  let t1 = -Infinity;
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    parts[i] = e.json;
    if (e.occurredAt < t0) t0 = e.occurredAt;
    if (e.occurredAt > t1) t1 = e.occurredAt;
  }
  return { json: `[${parts.join(',')}]`, count: entries.length, t0, t1 };
}

/** Stream heads and indexed ids of some events. */
function indexOf(entries: Iterable<{ aggregateId: string; seq: number; id: string; indexed: boolean }>): PageIndexRecord {
  const heads = new Map<string, number>();
  const ids: string[] = [];
  for (const e of entries) {
    const head = heads.get(e.aggregateId);
    if (head === undefined || e.seq > head) heads.set(e.aggregateId, e.seq);
    if (e.indexed) ids.push(e.id);
  }
  return { stream: [...heads], id: idKeys(ids) };
}

const indexedEntry = (e: PageEntry) => ({ aggregateId: e.aggregateId, seq: e.seq, id: e.id, indexed: e.indexId });

/** Cuts confirmed entries into page records of bounded size, each with its own index record (pageIndex). */
export function buildPages(entries: readonly PageEntry[]): BuiltPage[] {
  return cut(entries).map((page) => ({ page: recordOf(page), index: indexOf(page.map(indexedEntry)) }));
}

/** The pages of one pending commit, and the index record that covers them when there are several. */
export interface BuiltCommit {
  pages: PageRecord[];
  /** Present for a commit of several pages, or one whose `stream` entries wait: stored in pageIndex under the first page's key. */
  index?: PageIndexRecord;
  /** How many `stream` entries the index record holds in `later` (written into the index when the engine is idle). */
  later: number;
}

/**
 * A commit touching at least this many aggregates leaves its `stream`
 * entries for later: IndexedDB pays per index entry (a 635-entry record took
 * 14 ms to commit in Chromium here, a 60 KB page 0.9 ms: bench/index-cost-probe.mjs),
 * and a handful of entries is not worth a record of its own.
 */
export const LATER_MIN_ENTRIES = 64;
/**
 * At most this many entries wait at once (across commits): readers fold them
 * in from memory, so past this a burst pays its index at once, as before.
 * 100,000 entries are a few MB in the engine's memory.
 */
export const LATER_MAX_ENTRIES = 100_000;

/** Whether a commit of `entries` stream entries leaves them for later, with `waiting` already waiting. */
export function defersStream(entries: number, waiting: number): boolean {
  return entries >= LATER_MIN_ENTRIES && waiting + entries <= LATER_MAX_ENTRIES;
}

/**
 * The pages of one pending commit (an append transaction), to be stored at
 * lsns firstLsn, firstLsn + 1, ...: with one `stream` entry per aggregate
 * and runs of ids for all of them, on the page itself when there is one
 * page, else in one index record that also says where each aggregate's
 * events lie (`last`, `at`). Given `laterWaiting` (the entries already
 * waiting), a commit of many aggregates puts its `stream` and `at` in the
 * record's `later` instead (see defersStream); its ids are indexed at once,
 * as idempotent appends need them.
 */
export function buildCommit(entries: readonly PageEntry[], firstLsn: number, laterWaiting?: number): BuiltCommit {
  const pages = cut(entries);
  const records = pages.map(recordOf);
  if (records.length === 0) return { pages: records, later: 0 };
  const heads = new Map<string, { seq: number; from: number; to: number }>();
  const ids: string[] = [];
  const generatedIds: string[] = [];
  pages.forEach((page, i) => {
    const lsn = firstLsn + i;
    for (const e of page) {
      const head = heads.get(e.aggregateId);
      if (!head) heads.set(e.aggregateId, { seq: e.seq, from: lsn, to: lsn });
      else {
        if (e.seq > head.seq) head.seq = e.seq;
        head.to = lsn;
      }
      if (e.indexId) (e.generated ? generatedIds : ids).push(e.id);
    }
  });
  const id = idKeys(ids, generatedIds);
  const last = firstLsn + records.length - 1;
  if (laterWaiting !== undefined && defersStream(heads.size, laterWaiting)) {
    const later: LaterEntry[] = [];
    for (const [aggregateId, head] of heads) later.push([aggregateId, head.seq, head.from, head.to]);
    return { pages: records, index: { stream: [], id, last, later: JSON.stringify(later) }, later: later.length };
  }
  const stream: [string, number][] = [];
  for (const [aggregateId, head] of heads) stream.push([aggregateId, head.seq]);
  if (records.length === 1) {
    records[0]!.stream = stream;
    records[0]!.id = id;
    return { pages: records, later: 0 };
  }
  const at: [number, number][] = [];
  for (const head of heads.values()) at.push([head.from, head.to]);
  return { pages: records, index: { stream, id, last, at }, later: 0 };
}

/** One `later` entry: an aggregate, its highest seq in the commit, and the lsns of the first and last page holding its events. */
export type LaterEntry = [aggregateId: string, head: number, from: number, to: number];

/** A commit record's waiting entries, as the indexed fields they become. */
export function indexedFromLater(record: PageIndexRecord): PageIndexRecord {
  if (record.later === undefined) return record;
  const entries = JSON.parse(record.later) as LaterEntry[];
  const { later: _later, ...rest } = record;
  return {
    ...rest,
    stream: entries.map(([aggregateId, head]): [string, number] => [aggregateId, head]),
    at: entries.map(([, , from, to]): [number, number] => [from, to]),
  };
}

/**
 * One pending page holding exactly these events, with its own index entries
 * (a rewrite keeps the page's key). `slots`: each event's index as the page
 * was first written (keptWithSlots), stored unless they are 0, 1, 2, ...
 */
export function pendingPageOf(events: readonly StoredEvent[], slots?: readonly number[]): PageRecord {
  const entries = events.map((e) => entryOf(e, true));
  const record = recordOf(entries);
  const index = indexOf(entries.map(indexedEntry));
  record.stream = index.stream;
  record.id = index.id;
  if (slots && slots.some((slot, i) => slot !== i)) record.slots = [...slots];
  return record;
}

/**
 * The events of a stored pending page that `keep` keeps, in order, with the
 * slot of each (its index as the page was first written: core/cursor.ts,
 * slotOf), for pendingPageOf: the page written again names its events at the
 * places cursors taken before know them by.
 */
export function keptWithSlots(
  page: Pick<PageRecord, 'slots'>,
  events: readonly StoredEvent[],
  keep: (event: StoredEvent) => boolean,
): { events: StoredEvent[]; slots: number[] } {
  const out: { events: StoredEvent[]; slots: number[] } = { events: [], slots: [] };
  events.forEach((event, i) => {
    if (!keep(event)) return;
    out.events.push(event);
    out.slots.push(slotOf(page, i));
  });
  return out;
}

/** The index record of a stored confirmed page, from its events: for pages ingested before they were indexed. */
export function indexOfEvents(events: readonly StoredEvent[], ownClientId: string): PageIndexRecord {
  return indexOf(events.map((e) => ({ aggregateId: e.aggregateId, seq: e.seq, id: e.id, indexed: e.meta.clientId === ownClientId })));
}
