import { decodePageJson } from './page-codec.ts';
import type { ChronicleDB, MetaRecord } from './db.ts';
import { indexedFromLater, indexOfEvents } from './page-builder.ts';
import { backlogRange, readPages } from './page-store.ts';
import { PENDING } from './types.ts';

const ignore = (): void => undefined;

/**
 * Writes the index records of up to `maxPages` confirmed pages that a bulk
 * ingest stored without them, and advances meta.indexedThrough. Returns how
 * many pages are left.
 *
 * The pages are read in a read-only transaction and parsed outside any: a
 * readwrite transaction over `pages` would hold up every log read (a replay
 * right after a sync) for as long as the parsing takes. That is safe because
 * confirmed pages never change once written. The writes go in a transaction
 * over the index and meta only, and land only if meta still shows the same
 * backlog (another tab may have indexed it meanwhile).
 */
export async function indexBacklog(db: ChronicleDB, maxPages: number): Promise<number> {
  const read = db.transaction(['pages', 'meta']);
  const meta = await read.objectStore('meta').get('client');
  const range = meta ? backlogRange(meta) : null;
  if (!meta || !range) return 0;
  const store = read.objectStore('pages');
  const [{ keys, pages }, total] = await Promise.all([readPages(store, range, maxPages), store.count(range)]);
  const lastKey = keys[keys.length - 1];
  const lastPage = pages[pages.length - 1];
  if (!lastKey || !lastPage) return 0;
  const records = pages.map((page) => indexOfEvents(decodePageJson(page.json), meta.clientId));

  const tx = db.transaction(['pageIndex', 'meta'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const current = await metaStore.get('client');
  if (!current || current.clientId !== meta.clientId || current.indexedThrough !== meta.indexedThrough) {
    await tx.done;
    return total; // someone else moved the backlog: look again next time
  }
  records.forEach((record, i) => tx.objectStore('pageIndex').put(record, keys[i]!).catch(ignore));
  current.indexedThrough = lastKey[1] + lastPage.count - 1;
  if (current.indexedThrough >= current.confirmedHead) delete current.indexedThrough;
  metaStore.put(current, 'client').catch(ignore);
  await tx.done;
  return total - pages.length;
}

/** What one step of indexing waiting commits did. */
export interface LaterStep {
  /** Commit records (from meta.laterFrom on) left to look at. */
  left: number;
  /** The meta record as the step found it (JSON) and as it left it; absent when it wrote nothing. */
  meta?: { before: string; after: MetaRecord };
}

/**
 * Moves the waiting `stream` entries of up to `maxRecords` pending commits
 * (PageIndexRecord.later) into the index, and meta.laterFrom past them.
 * One readwrite transaction over pageIndex and meta: a commit record cannot
 * be confirmed or rebased away between reading and rewriting it, and an
 * append waits for it (a step is a few commits: ~15 ms each in Chromium).
 */
export async function indexLaterCommits(db: ChronicleDB, maxRecords: number): Promise<LaterStep> {
  const tx = db.transaction(['pageIndex', 'meta'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const meta = await metaStore.get('client');
  if (!meta || meta.laterFrom === undefined) {
    await tx.done;
    return { left: 0 };
  }
  const before = JSON.stringify(meta);
  const pageIndex = tx.objectStore('pageIndex');
  const keys = await pageIndex.getAllKeys(IDBKeyRange.bound([PENDING, meta.laterFrom], [PENDING, Infinity]));
  const step = keys.slice(0, maxRecords);
  const records = await Promise.all(step.map((key) => pageIndex.get(key)));
  let indexed = 0;
  records.forEach((record, i) => {
    if (record?.later === undefined) return;
    const done = indexedFromLater(record);
    indexed += done.stream.length;
    pageIndex.put(done, step[i]!).catch(ignore);
  });
  const next = keys[step.length];
  if (next) {
    meta.laterFrom = next[1];
    meta.laterEntries = Math.max(0, (meta.laterEntries ?? 0) - indexed);
  } else {
    delete meta.laterFrom;
    delete meta.laterEntries;
  }
  metaStore.put(meta, 'client').catch(ignore);
  await tx.done;
  return { left: keys.length - step.length, meta: { before, after: meta } };
}
