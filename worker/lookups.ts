import type { IDBPTransaction, StoreNames } from 'idb';
import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleSchema, PageIndexRecord, PageRecord } from './db.ts';
import { findIdCandidates, lowerBound, type IdIndex } from './id-keys.ts';
import { decodePageJson } from './page-codec.ts';
import { laterHead, laterIndex, laterPages } from './later-index.ts';
import { DROPPED, PENDING, type PageKey } from './types.ts';

/**
 * Finding pages by aggregate and by event id. Index entries live in two
 * places (db.ts): on pending pages that are commits of their own (indexes on
 * `pages`), and in `pageIndex` (confirmed pages, and pending commits of
 * several pages). Both are asked at once, in the caller's transaction.
 * Entries of pending commits that wait to be indexed (later-index.ts) are
 * added here; confirmed pages a bulk ingest has not indexed yet (the
 * backlog) are the caller's to add.
 */

/** A transaction that can read pages and both indexes. */
type IndexTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], IDBTransactionMode>;

const streamRange = (aggregateId: string) => IDBKeyRange.bound([aggregateId], [aggregateId, []]);
export const keyId = (key: PageKey): string => `${key[0]}:${key[1]}`;
/** Adds the pending pages firstLsn..lastLsn to a set of page keys by keyId. */
const addPending = (keys: Map<string, PageKey>, firstLsn: number, lastLsn: number): void => {
  for (let lsn = firstLsn; lsn <= lastLsn; lsn++) keys.set(`${PENDING}:${lsn}`, [PENDING, lsn]);
};
export const pageOrder = (a: PageKey, b: PageKey): number => a[0] - b[0] || a[1] - b[1];

/** The highest seq of an aggregate in the indexes (0 when it has none). */
export async function indexedHead(tx: IndexTx, aggregateId: string): Promise<number> {
  const range = streamRange(aggregateId);
  const [pending, confirmed, later] = await Promise.all([
    tx.objectStore('pages').index('stream').openKeyCursor(range, 'prev'),
    tx.objectStore('pageIndex').index('stream').openKeyCursor(range, 'prev'),
    laterIndex(tx),
  ]);
  return Math.max(pending?.key[1] ?? 0, confirmed?.key[1] ?? 0, laterHead(later, aggregateId));
}

/** What streamPageKeys found. */
export interface StreamPageKeys {
  /** The pages, in log order. */
  keys: PageKey[];
  /**
   * Whether fromSeq was dropped by compaction: the first entry at or past it
   * that belongs to no pending commit is a dropped pages' record (the index
   * lists an aggregate's entries in seq order, and its dropped seqs are its
   * first ones). droppedStreamPart says up to where.
   */
  startsDropped: boolean;
}

/**
 * The keys of the indexed pages that may hold seqs fromSeq..toSeq of an
 * aggregate, in log order. An index entry is [aggregate, highest seq in its
 * page or commit], so the pages are those of the entries in [from, to] plus
 * the first entry past `to`; an entry of a commit of several pages stands for
 * the pages its record says hold the aggregate's events.
 */
export async function streamPageKeys(tx: IndexTx, aggregateId: string, fromSeq: number, toSeq: number): Promise<StreamPageKeys> {
  const inside = IDBKeyRange.bound([aggregateId, fromSeq], [aggregateId, toSeq]);
  const beyond = toSeq === Infinity ? undefined : IDBKeyRange.bound([aggregateId, toSeq], [aggregateId, Infinity], true, false);
  const entries = async (store: 'pages' | 'pageIndex') => {
    const index = tx.objectStore(store).index('stream');
    const [keys, next] = await Promise.all([index.getAllKeys(inside), beyond ? index.getKey(beyond) : Promise.resolve(undefined)]);
    return next ? [...keys, next] : keys;
  };
  const [ownEntries, recordEntries, later] = await Promise.all([entries('pages'), entries('pageIndex'), laterIndex(tx)]);
  const keys = new Map<string, PageKey>();
  for (const key of ownEntries) keys.set(keyId(key), key);
  for (const lsn of laterPages(later, aggregateId, fromSeq, toSeq)) addPending(keys, lsn, lsn);
  const commits = recordEntries.filter((key) => key[0] === PENDING);
  const startsDropped = recordEntries.find((key) => key[0] !== PENDING)?.[0] === DROPPED;
  // Records of dropped pages (compaction) keep stream heads; they name no page.
  for (const key of recordEntries) if (key[0] !== PENDING && key[0] !== DROPPED) keys.set(keyId(key), key);
  const records = await Promise.all(commits.map((key) => tx.objectStore('pageIndex').get(key)));
  commits.forEach((key, i) => {
    const record = records[i];
    if (!record) return;
    const [from, to] = spanOf(record, key, aggregateId);
    addPending(keys, from, to);
  });
  return { keys: [...keys.values()].sort(pageOrder), startsDropped };
}

/**
 * The pending pages that may hold any of these aggregates' events, in log
 * order: the pages of their pending commits, indexed or waiting to be
 * (later-index.ts). Pages of other aggregates' events are not read at all.
 */
export async function pendingPageKeysOf(tx: IndexTx, aggregateIds: Iterable<string>): Promise<PageKey[]> {
  const keys = new Map<string, PageKey>();
  const found = await Promise.all([...aggregateIds].map((aggregateId) => streamPageKeys(tx, aggregateId, 1, Infinity)));
  for (const { keys: pageKeys } of found) for (const key of pageKeys) if (key[0] === PENDING) keys.set(keyId(key), key);
  return [...keys.values()].sort(pageOrder);
}

/**
 * Whether seq `fromSeq` of an aggregate was dropped by compaction, and if so
 * the last dropped seq (dropped events of an aggregate are always its first
 * ones: compaction drops a prefix of the confirmed log). The first entry at or
 * past fromSeq that belongs to no pending commit tells: a dropped pages'
 * record, or a confirmed page. Walks the index: for an error's facts, once
 * streamPageKeys said fromSeq was dropped.
 */
export async function droppedStreamPart(tx: IndexTx, aggregateId: string, fromSeq: number): Promise<number | undefined> {
  const index = tx.objectStore('pageIndex').index('stream');
  let cursor = await index.openKeyCursor(IDBKeyRange.bound([aggregateId, fromSeq], [aggregateId, Infinity]));
  while (cursor && cursor.primaryKey[0] === PENDING) cursor = await cursor.continue();
  if (!cursor || cursor.primaryKey[0] !== DROPPED) return undefined;
  let last = cursor.key[1];
  // Rare (an error is coming): walk to the last dropped entry for the error's facts.
  while (cursor) {
    if (cursor.primaryKey[0] === DROPPED) last = Math.max(last, cursor.key[1]);
    else if (cursor.primaryKey[0] !== PENDING) break;
    cursor = await cursor.continue();
  }
  return last;
}

/** The pages [first lsn, last lsn] of a pending index record that may hold an aggregate's events. */
function spanOf(record: PageIndexRecord, key: PageKey, aggregateId?: string): [number, number] {
  if (record.last === undefined) return [key[1], key[1]];
  if (aggregateId !== undefined && record.at) {
    const i = record.stream.findIndex((entry) => entry[0] === aggregateId);
    if (i >= 0 && record.at[i]) return record.at[i];
  }
  return [key[1], record.last];
}

/** Reads pages by key, in parallel, into `read` (by keyId); missing pages are left out. */
export async function readKeyed(
  tx: IndexTx,
  keys: readonly PageKey[],
  read: Map<string, PageRecord> = new Map(),
): Promise<Map<string, PageRecord>> {
  const wanted = keys.filter((key) => !read.has(keyId(key)));
  const pages = tx.objectStore('pages');
  const found = await Promise.all(wanted.map((key) => pages.get(key)));
  wanted.forEach((key, i) => {
    const page = found[i];
    if (page) read.set(keyId(key), page);
  });
  return read;
}

/**
 * The stored events (indexed ones: pending, and this client's confirmed) with
 * any of these ids, with the key of the page holding each.
 */
export async function findStoredEvents(
  tx: IndexTx,
  ids: readonly string[],
  /** Filled with the ids among `ids` that were stored and then dropped by compaction. */
  dropped?: Set<string>,
): Promise<Map<string, { event: StoredEvent; key: PageKey }>> {
  const out = new Map<string, { event: StoredEvent; key: PageKey }>();
  if (ids.length === 0) return out;
  const pageIndex = tx.objectStore('pageIndex');
  const [own, recorded] = await Promise.all([
    findIdCandidates(tx.objectStore('pages').index('id') as unknown as IdIndex, ids),
    findIdCandidates(pageIndex.index('id') as unknown as IdIndex, ids),
  ]);
  if (own.size === 0 && recorded.size === 0) return out;
  const keys = new Map<string, PageKey>();
  for (const list of own.values()) for (const key of list) keys.set(keyId(key), key);
  const commits = new Map<string, PageKey>();
  const tombstones = new Map<string, PageKey>();
  for (const list of recorded.values()) {
    for (const key of list) (key[0] === PENDING ? commits : key[0] === DROPPED ? tombstones : keys).set(keyId(key), key);
  }
  if (tombstones.size > 0) await findDropped(tx, [...tombstones.values()], ids, dropped);
  // A commit's record stands for its pages: the id may be on any of them.
  const records = await Promise.all([...commits.values()].map((key) => pageIndex.get(key)));
  [...commits.values()].forEach((key, i) => {
    const record = records[i];
    if (!record) return;
    const [from, to] = spanOf(record, key);
    addPending(keys, from, to);
  });
  const read = await readKeyed(tx, [...keys.values()]);
  const wanted = new Set(ids);
  for (const [id, key] of keys) {
    const page = read.get(id);
    if (!page) continue;
    for (const event of decodePageJson(page.json)) if (wanted.has(event.id)) out.set(event.id, { event, key });
  }
  return out;
}

/** Which of `ids` the dropped pages' records (compaction) hold exactly: their `id` runs only say where to look. */
async function findDropped(tx: IndexTx, keys: readonly PageKey[], ids: readonly string[], into: Set<string> | undefined): Promise<void> {
  const records = await Promise.all(keys.map((key) => tx.objectStore('pageIndex').get(key)));
  for (const record of records) {
    const list = record?.dropped;
    if (!list) continue;
    for (const id of ids) if (sortedHas(list, id)) into?.add(id);
  }
}

function sortedHas(sorted: readonly string[], value: string): boolean {
  return sorted[lowerBound(sorted, value)] === value;
}
