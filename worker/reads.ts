import type { IDBPObjectStore } from 'idb';
import type { ChronicleDB, ChronicleSchema, PageRecord, SnapshotRecord } from './db.ts';
import type { LogPageQuery, LogPageResult, PageKey, RawPage, StreamQuery } from './types.ts';
import { CONFIRMED } from './types.ts';

/** Pages fetched per IndexedDB request when walking the log. */
const PAGES_PER_READ = 64;

function raw(key: PageKey, page: PageRecord): RawPage {
  return { area: key[0], page: key[1], json: page.json, count: page.count };
}

async function startKey(db: ChronicleDB, query: LogPageQuery): Promise<PageKey | undefined> {
  let start: PageKey | undefined;
  if (query.after) start = [query.after.area, query.after.page];
  if (query.fromPosition !== undefined && (!start || start[0] === CONFIRMED)) {
    // The confirmed page holding fromPosition is the last one starting at or before it.
    const holder = await db
      .transaction('pages')
      .store.openKeyCursor(IDBKeyRange.bound([CONFIRMED, 0], [CONFIRMED, query.fromPosition]), 'prev');
    const candidate: PageKey = holder ? holder.key : [CONFIRMED, query.fromPosition];
    if (!start || candidate[1] > start[1]) start = candidate;
  }
  return start;
}

/**
 * Reads whole pages in log order from `query.after` (inclusive of its page:
 * the caller skips the events it has seen). Bounded by maxEvents, so a reader
 * never holds the whole log.
 */
export async function readLogPages(db: ChronicleDB, query: LogPageQuery): Promise<LogPageResult> {
  const maxEvents = query.maxEvents ?? 5000;
  let lower = await startKey(db, query);
  let inclusive = true;
  const out: RawPage[] = [];
  let events = 0;
  // Ask IndexedDB for about as many pages as the events still wanted need:
  // over-reading costs as much as reading.
  let perPage = 100;
  for (;;) {
    const want = Math.min(PAGES_PER_READ, Math.max(1, Math.ceil((maxEvents - events) / perPage) + 1));
    const range = lower ? IDBKeyRange.lowerBound(lower, !inclusive) : undefined;
    const store = db.transaction('pages').store;
    const [keys, values] = await Promise.all([store.getAllKeys(range, want), store.getAll(range, want)]);
    let seen = 0;
    let seenEvents = 0;
    for (let i = 0; i < values.length; i++) {
      const page = values[i]!;
      const key = keys[i]!;
      seen++;
      seenEvents += page.count;
      const after = query.after;
      // The cursor's own page, when the cursor is at its last event, holds nothing new.
      if (after && key[0] === after.area && key[1] === after.page && after.index >= page.count - 1) continue;
      if (query.fromTime !== undefined && page.t1 < query.fromTime) continue;
      if (query.toTime !== undefined && page.t0 > query.toTime) continue;
      out.push(raw(key, page));
      events += page.count;
      if (events >= maxEvents) {
        const more = i < values.length - 1 || values.length === want;
        return { pages: out, end: !more };
      }
    }
    if (values.length < want) return { pages: out, end: true };
    perPage = Math.max(1, seenEvents / Math.max(1, seen));
    lower = keys[keys.length - 1];
    inclusive = false;
  }
}

/**
 * The pages holding seqs fromSeq..toSeq of one aggregate, in seq order. The
 * stream index maps [aggregateId, highest seq in page] to the page, so the
 * pages are the entries in [from, to] plus the first entry past `to`.
 */
export async function readStreamPages(db: ChronicleDB, query: StreamQuery): Promise<RawPage[]> {
  return streamPagesIn(db.transaction(['pages', 'snapshots']).objectStore('pages'), query);
}

type PagesReader = IDBPObjectStore<ChronicleSchema, ('pages' | 'snapshots')[], 'pages', 'readonly'>;

/**
 * A stream's snapshot and the pages after it, in ONE transaction and one call:
 * a load from a snapshot costs one round trip to the engine, not two.
 */
export async function readSnapshotAndTail(
  db: ChronicleDB,
  aggregateId: string,
  maxPages: number,
): Promise<{ snapshot: SnapshotRecord | undefined; pages: RawPage[] }> {
  const tx = db.transaction(['pages', 'snapshots']);
  const snapshot = await tx.objectStore('snapshots').get(aggregateId);
  const pages = await streamPagesIn(tx.objectStore('pages'), {
    aggregateId,
    fromSeq: (snapshot?.seq ?? 0) + 1,
    toSeq: Infinity,
    maxPages,
  });
  return { snapshot, pages };
}

async function streamPagesIn(store: PagesReader, query: StreamQuery): Promise<RawPage[]> {
  const { aggregateId, fromSeq, toSeq } = query;
  const tx = { store };
  const index = store.index('stream');
  const [inside, beyond] = await Promise.all([
    index.getAllKeys(IDBKeyRange.bound([aggregateId, fromSeq], [aggregateId, toSeq])),
    toSeq === Infinity
      ? Promise.resolve(undefined)
      : index.getKey(IDBKeyRange.bound([aggregateId, toSeq], [aggregateId, Infinity], true, false)),
  ]);
  const keys = beyond ? [...inside, beyond] : inside;
  const seen = new Set<string>();
  let unique = keys.filter((k) => {
    const id = `${k[0]}:${k[1]}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const maxPages = query.maxPages ?? 256;
  if (unique.length > maxPages) unique = query.backwards ? unique.slice(-maxPages) : unique.slice(0, maxPages);
  const pages = await Promise.all(unique.map((k) => tx.store.get(k)));
  const out: RawPage[] = [];
  pages.forEach((page, i) => {
    if (page) out.push(raw(unique[i]!, page));
  });
  return out;
}
