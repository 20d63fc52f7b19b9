import { decodePageJson } from './page-codec.ts';
import type { ChronicleDB } from './db.ts';
import { indexOfEvents } from './page-builder.ts';
import { backlogRange, readPages } from './page-store.ts';

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
