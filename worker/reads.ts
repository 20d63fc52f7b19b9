import { unwrap, type IDBPTransaction } from 'idb';
import { slotOf } from '../src/core/cursor.ts';
import { HistoryCompactedError } from '../src/core/errors.ts';
import { decodePageJson } from './page-codec.ts';
import { backlogRange, readBacklog, readPages } from './page-store.ts';
import type { ChronicleDB, ChronicleSchema, MetaRecord, PageRecord, SnapshotRecord } from './db.ts';
import { historyStartOf } from './meta.ts';
import { droppedStreamPart, indexedHead, keyId, pageOrder, readKeyed, streamPageKeys } from './lookups.ts';
import type { StateCache } from './state-cache.ts';
import type { LogPageQuery, LogPageResult, PageKey, RawPage, StreamQuery } from './types.ts';
import { CONFIRMED } from './types.ts';
import { commitEarly } from './commit-early.ts';

/** Pages fetched per round (one getAllKeys, then one get per page) when walking the log. */
const PAGES_PER_READ = 64;

function raw(key: PageKey, page: PageRecord): RawPage {
  const out: RawPage = { area: key[0], page: key[1], json: page.json, count: page.count };
  if (page.slots) out.slots = page.slots;
  return out;
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

/** The keys from `lower` (null: the first) up to `upper` (absent: the last). */
function pageRange(lower: PageKey | undefined, inclusive: boolean, upper: PageKey | undefined): IDBKeyRange | null {
  if (lower && upper) return IDBKeyRange.bound(lower, upper, !inclusive, false);
  if (lower) return IDBKeyRange.lowerBound(lower, !inclusive);
  return upper ? IDBKeyRange.upperBound(upper) : null;
}

/** Events per page in the last log read: sizes the next read's first request. */
let eventsPerPageSeen = 100;

/**
 * Reads whole pages in log order from `query.after` (inclusive of its page:
 * the caller skips the events it has seen). Bounded by maxEvents, so a reader
 * never holds the whole log.
 */
export async function readLogPages(db: ChronicleDB, query: LogPageQuery): Promise<LogPageResult> {
  const maxEvents = query.maxEvents ?? 5000;
  const [start, meta] = await Promise.all([startKey(db, query), db.get('meta', 'client')]);
  const historyStartsAt = historyStartOf(meta);
  const dropped = meta?.compaction;
  const history = dropped ? { historyStartsAt, droppedTimes: [dropped.t0, dropped.t1] as [number, number] } : { historyStartsAt };
  let lower = start;
  let inclusive = true;
  // Confirmed pages are keyed [CONFIRMED, position] and come before every pending one.
  const upper: PageKey | undefined = query.confirmedOnly ? [CONFIRMED, Infinity] : undefined;
  if (upper && lower && indexedDB.cmp(lower, upper) >= 0) return { pages: [], end: true, ...history };
  const out: RawPage[] = [];
  let events = 0;
  // Ask IndexedDB for about as many pages as the events still wanted need:
  // over-reading costs as much as reading. The page size seen last time is the guess.
  let perPage = eventsPerPageSeen;
  for (;;) {
    const want = Math.min(PAGES_PER_READ, Math.max(1, Math.ceil((maxEvents - events) / perPage) + 1));
    const range = pageRange(lower, inclusive, upper);
    const { keys, pages: values } = await readPages(db.transaction('pages').store, range, want);
    let seen = 0;
    let seenEvents = 0;
    for (let i = 0; i < values.length; i++) {
      const page = values[i]!;
      const key = keys[i]!;
      seen++;
      seenEvents += page.count;
      const after = query.after;
      // The cursor's own page, when the cursor is at its last event, holds nothing new.
      if (after && key[0] === after.area && key[1] === after.page && after.index >= slotOf(page, page.count - 1)) continue;
      if (query.fromTime !== undefined && page.t1 < query.fromTime) continue;
      if (query.toTime !== undefined && page.t0 > query.toTime) continue;
      out.push(raw(key, page));
      events += page.count;
      if (events >= maxEvents) {
        eventsPerPageSeen = Math.max(1, seenEvents / Math.max(1, seen));
        const more = i < values.length - 1 || values.length === want;
        return { pages: out, end: !more, ...history };
      }
    }
    if (values.length < want) return { pages: out, end: true, ...history };
    perPage = Math.max(1, seenEvents / Math.max(1, seen));
    eventsPerPageSeen = perPage;
    lower = keys[keys.length - 1];
    inclusive = false;
  }
}

/**
 * The pages holding seqs fromSeq..toSeq of one aggregate, in seq order. The
 * stream index maps [aggregateId, highest seq in page] to the page, so the
 * pages are the entries in [from, to] plus the first entry past `to`; pages
 * not indexed yet (a fresh bulk pull) are found by reading them.
 */
export async function readStreamPages(db: ChronicleDB, query: StreamQuery): Promise<RawPage[]> {
  return streamPagesIn(db.transaction(['pages', 'pageIndex', 'meta', 'snapshots', 'bases']), query);
}

type ReadTx = IDBPTransaction<ChronicleSchema, ('pages' | 'pageIndex' | 'meta' | 'snapshots' | 'bases')[], 'readonly'>;

/** An aggregate's snapshot, its compaction base (if compaction dropped its first events) and pages after the later of the two. */
export interface SnapshotAndTail {
  snapshot: SnapshotRecord | undefined;
  /** The state at exactly the last seq compaction dropped: a load that cannot use `snapshot` starts here. */
  base?: SnapshotRecord | undefined;
  pages: RawPage[];
  /**
   * The log's pendingRewrites read with them (MetaRecord): a load stores its snapshot only while it is
   * unchanged (putSnapshot), since a rewrite since then may have moved or removed events it folded.
   */
  rewrites?: number;
}

/**
 * A stream's snapshot and the pages after it, in ONE transaction and one call:
 * a load from a snapshot costs one round trip to the engine, not two.
 */
export async function readSnapshotAndTail(
  db: ChronicleDB,
  aggregateId: string,
  maxPages: number,
  cache: StateCache,
): Promise<SnapshotAndTail> {
  const atHead = await snapshotAtKnownHead(db, aggregateId, cache);
  if (atHead) return atHead;
  const tx = db.transaction(['pages', 'pageIndex', 'meta', 'snapshots', 'bases']);
  // Snapshot, base, stream head and meta in one round: a snapshot at the head needs nothing more.
  const [snapshot, base, head, meta] = await Promise.all([
    tx.objectStore('snapshots').get(aggregateId),
    tx.objectStore('bases').get(aggregateId),
    indexedHead(tx, aggregateId),
    tx.objectStore('meta').get('client'),
  ]);
  const from = Math.max(snapshot?.seq ?? 0, base?.seq ?? 0);
  const rewrites = meta?.pendingRewrites ?? 0;
  // With a backlog of unindexed pages, the index does not know the head.
  if (meta && !backlogRange(meta)) {
    cache.observe(meta, [[aggregateId, head]]);
    if (head <= from && (snapshot || base)) return { snapshot, base, pages: [], rewrites };
  }
  // Asked for no pages (a caller that wants only the base): no stream lookup.
  if (maxPages <= 0) return { snapshot, base, pages: [], rewrites };
  const pages = await streamPagesIn(tx, { aggregateId, fromSeq: from + 1, toSeq: Infinity, maxPages, keptOnly: true });
  return { snapshot, base, pages, rewrites };
}

/**
 * The common load: the engine knows the stream head (it wrote or read it),
 * nothing moved since (meta is unchanged) and the snapshot is at the head.
 * Then two gets in a transaction over two stores are all a load costs. This
 * runs on every load, so it uses the raw IndexedDB objects (idb's `unwrap`).
 * Undefined = read the long way.
 */
async function snapshotAtKnownHead(db: ChronicleDB, aggregateId: string, cache: StateCache): Promise<SnapshotAndTail | undefined> {
  const known = cache.lookup([aggregateId]);
  const head = known?.heads[0];
  if (!known || head === undefined || head === 0) return undefined;
  // Compaction writes bases and meta.compaction in one transaction: while meta (checked below) shows none, there is no base to read.
  const compacted = known.compacted;
  const tx = unwrap(db).transaction(compacted ? ['snapshots', 'bases', 'meta'] : ['snapshots', 'meta']);
  const snapshot = tx.objectStore('snapshots').get(aggregateId);
  const base = compacted ? tx.objectStore('bases').get(aggregateId) : undefined;
  const meta = tx.objectStore('meta').get('client');
  commitEarly(tx);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('read aborted', 'AbortError'));
  });
  const found = snapshot.result as SnapshotRecord | undefined;
  if (!found || found.seq < head) return undefined;
  if (JSON.stringify(meta.result) !== known.metaJson) return undefined;
  const rewrites = (meta.result as MetaRecord | undefined)?.pendingRewrites ?? 0;
  return { snapshot: found, base: base?.result as SnapshotRecord | undefined, pages: [], rewrites };
}

/** The highest seq of an aggregate, indexed or in the not-yet-indexed pages. */
export async function readStreamHead(db: ChronicleDB, aggregateId: string): Promise<number> {
  const tx = db.transaction(['pages', 'pageIndex', 'meta']);
  const [indexed, meta] = await Promise.all([indexedHead(tx, aggregateId), tx.objectStore('meta').get('client')]);
  if (!meta || !backlogRange(meta)) return indexed;
  const backlog = await readBacklog(tx, meta);
  return Math.max(indexed, backlog.heads.get(aggregateId) ?? 0);
}

async function streamPagesIn(tx: ReadTx, query: StreamQuery): Promise<RawPage[]> {
  const { aggregateId, fromSeq, toSeq } = query;
  const pages = tx.objectStore('pages');
  const [{ keys, startsDropped }, meta] = await Promise.all([
    streamPageKeys(tx, aggregateId, fromSeq, toSeq),
    tx.objectStore('meta').get('client'),
  ]);
  if (startsDropped && !query.keptOnly && fromSeq <= toSeq) {
    const dropped = (await droppedStreamPart(tx, aggregateId, fromSeq)) ?? fromSeq;
    throw new HistoryCompactedError('stream', historyStartOf(meta), { aggregateId, fromSeq, firstKeptSeq: dropped + 1 });
  }
  if (startsDropped && query.keptOnly && Number.isFinite(toSeq)) {
    // Only the range's end was given, and all of it was dropped: an empty answer would be a different one.
    const dropped = (await droppedStreamPart(tx, aggregateId, fromSeq)) ?? 0;
    if (toSeq <= dropped)
      throw new HistoryCompactedError('stream', historyStartOf(meta), { aggregateId, toSeq, firstKeptSeq: dropped + 1 });
  }
  const found = new Map<string, RawPage>();
  const range = meta ? backlogRange(meta) : null;
  if (range) {
    const { keys: backlogKeys, pages: backlogPages } = await readPages(pages, range);
    backlogPages.forEach((page, i) => {
      const events = decodePageJson(page.json);
      if (events.some((e) => e.aggregateId === aggregateId && e.seq >= fromSeq && e.seq <= toSeq)) {
        const key = backlogKeys[i]!;
        found.set(keyId(key), raw(key, page));
      }
    });
  }
  // In page order, an aggregate's pages are in seq order (confirmed by position, then pending).
  let all: PageKey[] = [...keys.filter((k) => !found.has(keyId(k))), ...[...found.values()].map((p): PageKey => [p.area, p.page])].sort(
    pageOrder,
  );
  const maxPages = query.maxPages ?? 256;
  if (all.length > maxPages) all = query.backwards ? all.slice(-maxPages) : all.slice(0, maxPages);
  const read = await readKeyed(
    tx,
    all.filter((k) => !found.has(keyId(k))),
  );
  const out: RawPage[] = [];
  for (const key of all) {
    const id = keyId(key);
    const page = found.get(id) ?? (read.has(id) ? raw(key, read.get(id)!) : undefined);
    if (page) out.push(page);
  }
  return out;
}

/**
 * The id of the confirmed event at `position`, read from its page, or
 * undefined when this store does not hold it (compaction dropped its page, or
 * it is past the head). A sync round asks for the head's event when the
 * metadata does not name it (a store last synced by an older version).
 */
export async function confirmedIdAt(db: ChronicleDB, position: number): Promise<string | undefined> {
  const holder = await db.transaction('pages').store.openCursor(IDBKeyRange.bound([CONFIRMED, 0], [CONFIRMED, position]), 'prev');
  if (!holder) return undefined;
  const index = position - holder.key[1];
  if (index >= holder.value.count) return undefined;
  const event = decodePageJson(holder.value.json)[index];
  return event?.position === position ? event.id : undefined;
}
