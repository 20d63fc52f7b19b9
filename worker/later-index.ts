import { unwrap, type IDBPTransaction, type StoreNames } from 'idb';
import type { ChronicleSchema, MetaRecord } from './db.ts';
import type { LaterEntry } from './page-builder.ts';
import { PENDING, type PageKey } from './types.ts';

/**
 * The `stream` entries that wait to be indexed (db.ts, PageIndexRecord.later),
 * for readers: what the `stream` index would say of them. A reader asks once
 * per transaction; the parsed records are kept per database, since a waiting
 * record never changes: it is indexed (rewritten without `later`) or deleted,
 * and its lsn is never used again.
 */

type ReadTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], IDBTransactionMode>;

/** One waiting entry, as a reader needs it: the commit's key, the aggregate's highest seq in it, its pages. */
export interface WaitingEntry {
  commit: PageKey;
  head: number;
  from: number;
  to: number;
}

/** Per aggregate, its waiting entries in commit order. */
export type LaterIndex = ReadonlyMap<string, readonly WaitingEntry[]>;

const NOTHING: LaterIndex = new Map();

/** Per transaction: the answer (every lookup in a transaction shares one read). */
const perTransaction = new WeakMap<object, Promise<LaterIndex>>();
/** Per database connection: parsed records by lsn, and the index last built from them. */
const perDatabase = new WeakMap<object, { records: Map<number, LaterEntry[]>; built?: { signature: string; index: LaterIndex } }>();

/** The waiting entries as of `tx` (which must cover pageIndex and meta). */
export function laterIndex(tx: ReadTx): Promise<LaterIndex> {
  let found = perTransaction.get(tx);
  if (!found) {
    found = readLaterIndex(tx);
    perTransaction.set(tx, found);
  }
  return found;
}

async function readLaterIndex(tx: ReadTx): Promise<LaterIndex> {
  const meta = (await tx.objectStore('meta').get('client')) as MetaRecord | undefined;
  const db = unwrap(tx).db;
  if (meta?.laterFrom === undefined) {
    // Nothing waits any more: what was parsed is not kept for the next burst.
    perDatabase.delete(db);
    return NOTHING;
  }
  const pageIndex = tx.objectStore('pageIndex');
  const keys = await pageIndex.getAllKeys(IDBKeyRange.bound([PENDING, meta.laterFrom], [PENDING, Infinity]));
  let cache = perDatabase.get(db);
  if (!cache) {
    cache = { records: new Map() };
    perDatabase.set(db, cache);
  }
  const records = cache.records;
  const unread = keys.filter((key) => !records.has(key[1]));
  const values = await Promise.all(unread.map((key) => pageIndex.get(key)));
  unread.forEach((key, i) => {
    const later = values[i]?.later;
    // An indexed record has nothing waiting: remembered as empty, so it is not read again.
    records.set(key[1], later === undefined ? [] : (JSON.parse(later) as LaterEntry[]));
  });
  const signature = keys.map((key) => key[1]).join(',');
  if (cache.built?.signature === signature) return cache.built.index;
  const present = new Set(keys.map((key) => key[1]));
  for (const lsn of records.keys()) if (!present.has(lsn)) records.delete(lsn);
  const index = buildLaterIndex(keys.map((key) => [key, records.get(key[1]) ?? []]));
  cache.built = { signature, index };
  return index;
}

/** Groups waiting records' entries by aggregate, in commit order. Pure. */
export function buildLaterIndex(records: readonly (readonly [PageKey, readonly LaterEntry[]])[]): LaterIndex {
  const index = new Map<string, WaitingEntry[]>();
  for (const [commit, entries] of records) {
    for (const [aggregateId, head, from, to] of entries) {
      const list = index.get(aggregateId);
      const entry = { commit, head, from, to };
      if (list) list.push(entry);
      else index.set(aggregateId, [entry]);
    }
  }
  return index;
}

/** The highest seq of an aggregate among the waiting entries (0 when none). */
export function laterHead(index: LaterIndex, aggregateId: string): number {
  let head = 0;
  for (const entry of index.get(aggregateId) ?? []) if (entry.head > head) head = entry.head;
  return head;
}

/**
 * The pending pages (lsns) that may hold seqs fromSeq..toSeq of an aggregate
 * by the waiting entries, as the stream index would answer: the entries
 * whose head lies in [from, to], plus the first past `to`. Pure.
 */
export function laterPages(index: LaterIndex, aggregateId: string, fromSeq: number, toSeq: number): number[] {
  const entries = index.get(aggregateId);
  if (!entries) return [];
  const lsns: number[] = [];
  let beyond: WaitingEntry | undefined;
  for (const entry of entries) {
    if (entry.head >= fromSeq && entry.head <= toSeq) for (let lsn = entry.from; lsn <= entry.to; lsn++) lsns.push(lsn);
    else if (entry.head > toSeq && (!beyond || entry.head < beyond.head)) beyond = entry;
  }
  if (beyond) for (let lsn = beyond.from; lsn <= beyond.to; lsn++) lsns.push(lsn);
  return lsns;
}
