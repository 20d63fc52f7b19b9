import type { EncodedEvent } from '../src/core/registry.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { PageIndexRecord, PageRecord } from './db.ts';
import { rowJson } from './page-codec.ts';

/** A page and its index record, written under the same key. */
export interface BuiltPage {
  page: PageRecord;
  index: PageIndexRecord;
}

/** Pages stay below Chromium's 64 KiB out-of-line threshold where they can. */
export const MAX_PAGE_CHARS = 60 * 1024;
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
    `[${JSON.stringify(event.id)},${aggregateIdJson},${aggregateTypeJson},${seq},${body},` +
    `${clientIdJson},${clientSeq},0${event.tail}]`
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

/** Cuts entries into page records of bounded size, preserving order. */
export function buildPages(entries: readonly PageEntry[]): BuiltPage[] {
  const pages: BuiltPage[] = [];
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
    pages.push(pageOf(entries.slice(start, end)));
    start = end;
  }
  return pages;
}

/** One page holding exactly these events (a rewrite of an existing page keeps its key). */
export function pageOfEvents(events: readonly StoredEvent[]): BuiltPage {
  return pageOf(events.map((e) => entryOf(e, true)));
}

function pageOf(entries: readonly PageEntry[]): BuiltPage {
  const heads = new Map<string, number>();
  const ids: string[] = [];
  let t0 = Infinity;
  let t1 = -Infinity;
  const parts: string[] = [];
  for (const e of entries) {
    parts.push(e.json);
    const head = heads.get(e.aggregateId);
    if (head === undefined || e.seq > head) heads.set(e.aggregateId, e.seq);
    if (e.indexId) ids.push(e.id);
    if (e.occurredAt < t0) t0 = e.occurredAt;
    if (e.occurredAt > t1) t1 = e.occurredAt;
  }
  return {
    page: { json: `[${parts.join(',')}]`, count: entries.length, t0, t1 },
    index: { stream: [...heads], id: ids },
  };
}

/** The index record of a stored page, from its events: for pages ingested before they were indexed. */
export function indexOfEvents(events: readonly StoredEvent[], ownClientId: string): PageIndexRecord {
  const heads = new Map<string, number>();
  const ids: string[] = [];
  for (const e of events) {
    const head = heads.get(e.aggregateId);
    if (head === undefined || e.seq > head) heads.set(e.aggregateId, e.seq);
    if (e.meta.clientId === ownClientId) ids.push(e.id);
  }
  return { stream: [...heads], id: ids };
}
