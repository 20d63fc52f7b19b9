import type { IDBPTransaction, StoreNames } from 'idb';
import { decodePageJson } from './page-codec.ts';
import type { ChronicleSchema, MetaRecord, PageRecord } from './db.ts';
import type { BuiltCommit, BuiltPage } from './page-builder.ts';
import { CONFIRMED, PENDING, type PageKey } from './types.ts';

export type WriteTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], 'readwrite'>;
type AnyTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], IDBTransactionMode>;

const ignore = (): void => undefined;

/** The part of the `pages` store that bulk reads use, in any transaction mode. */
export interface PageSource {
  get(key: PageKey): Promise<PageRecord | undefined>;
  getAllKeys(range?: IDBKeyRange | null, count?: number): Promise<PageKey[]>;
}

/**
 * The pages in `range` (the first `count` of them), with their keys, in key
 * order. One `get` per page, all in flight together, rather than one
 * `getAll`: Chromium answers a getAll whose values add up to more than a few
 * hundred KiB several times slower than the same values asked for one by one
 * (measured here: 18 MB of 45-60 KiB pages, 64 pages per getAll ~0.9 s, one
 * get per page ~0.15 s). Both requests run in the caller's transaction, so no
 * page can vanish between them.
 */
export async function readPages(
  store: PageSource,
  range: IDBKeyRange | null,
  count?: number,
): Promise<{ keys: PageKey[]; pages: PageRecord[] }> {
  const keys = await store.getAllKeys(range, count);
  const found = await Promise.all(keys.map((key) => store.get(key)));
  const pages = found.map((page, i) => {
    if (!page) throw new Error(`page ${String(keys[i])} vanished inside its transaction`);
    return page;
  });
  return { keys, pages };
}

/** Writes a confirmed page and (unless deferred) its index record under one key. Failures surface through tx.done. */
export function putPage(tx: WriteTx, key: PageKey, built: BuiltPage, options: { deferIndex?: boolean } = {}): void {
  tx.objectStore('pages').put(built.page, key).catch(ignore);
  if (!options.deferIndex) tx.objectStore('pageIndex').put(built.index, key).catch(ignore);
}

/** Writes a pending page, whose index entries (if any) are its own fields. Failures surface through tx.done. */
export function putPendingPage(tx: WriteTx, key: PageKey, page: PageRecord): void {
  tx.objectStore('pages').put(page, key).catch(ignore);
}

/** Writes a pending commit's pages at lsns firstLsn, firstLsn + 1, ... and its index record if it has one; returns the next lsn. */
export function putCommit(tx: WriteTx, firstLsn: number, commit: BuiltCommit): number {
  commit.pages.forEach((page, i) => putPendingPage(tx, [PENDING, firstLsn + i], page));
  if (commit.index) tx.objectStore('pageIndex').put(commit.index, [PENDING, firstLsn]).catch(ignore);
  return firstLsn + commit.pages.length;
}

/** Deletes a page and, for a confirmed one, its index record. */
export function deletePage(tx: WriteTx, key: PageKey): void {
  tx.objectStore('pages').delete(key).catch(ignore);
  if (key[0] === CONFIRMED) tx.objectStore('pageIndex').delete(key).catch(ignore);
}

/** The confirmed pages not indexed yet, or null when there are none. */
export function backlogRange(meta: MetaRecord): IDBKeyRange | null {
  if (meta.indexedThrough === undefined || meta.indexedThrough >= meta.confirmedHead) return null;
  return IDBKeyRange.bound([CONFIRMED, meta.indexedThrough + 1], [CONFIRMED, Infinity]);
}

/** What the unindexed pages would have put in the indexes: stream heads and our own ids. */
export interface Backlog {
  keys: PageKey[];
  heads: Map<string, number>;
  ownIds: Map<string, PageKey>;
}

export async function readBacklog(tx: AnyTx, meta: MetaRecord): Promise<Backlog> {
  const backlog: Backlog = { keys: [], heads: new Map(), ownIds: new Map() };
  const range = backlogRange(meta);
  if (!range) return backlog;
  const { keys, pages } = await readPages(tx.objectStore('pages'), range);
  backlog.keys = keys;
  pages.forEach((page, i) => {
    for (const e of decodePageJson(page.json)) {
      if ((backlog.heads.get(e.aggregateId) ?? 0) < e.seq) backlog.heads.set(e.aggregateId, e.seq);
      if (e.meta.clientId === meta.clientId) backlog.ownIds.set(e.id, keys[i]!);
    }
  });
  return backlog;
}
