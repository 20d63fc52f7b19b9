import type { IDBPTransaction, StoreNames } from 'idb';
import { decodePageJson } from './page-codec.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleSchema, MetaRecord } from './db.ts';
import type { BuiltPage } from './page-builder.ts';
import { CONFIRMED, type PageKey } from './types.ts';

type WriteTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], 'readwrite'>;
type AnyTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], IDBTransactionMode>;

const ignore = (): void => undefined;

/** Writes a page and (unless deferred) its index record under one key. Failures surface through tx.done. */
export function putPage(tx: WriteTx, key: PageKey, built: BuiltPage, options: { deferIndex?: boolean } = {}): void {
  tx.objectStore('pages').put({ ...built.page, k: key }, key).catch(ignore);
  if (!options.deferIndex) tx.objectStore('pageIndex').put(built.index, key).catch(ignore);
}

export function deletePage(tx: WriteTx, key: PageKey): void {
  tx.objectStore('pages').delete(key).catch(ignore);
  tx.objectStore('pageIndex').delete(key).catch(ignore);
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
  const pages = tx.objectStore('pages');
  const [keys, values] = await Promise.all([pages.getAllKeys(range), pages.getAll(range)]);
  backlog.keys = keys;
  values.forEach((page, i) => {
    for (const e of decodePageJson(page.json)) {
      if ((backlog.heads.get(e.aggregateId) ?? 0) < e.seq) backlog.heads.set(e.aggregateId, e.seq);
      if (e.meta.clientId === meta.clientId) backlog.ownIds.set(e.id, keys[i]!);
    }
  });
  return backlog;
}
