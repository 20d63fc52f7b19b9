import type { StoredEvent } from '../src/core/event.ts';
import { decodePageJson } from './page-codec.ts';
import type { ChronicleDB } from './db.ts';
import { indexOfEvents } from './page-builder.ts';
import { backlogRange, readPages } from './page-store.ts';

const ignore = (): void => undefined;

/**
 * Writes the index records of up to `maxPages` confirmed pages that a bulk
 * ingest stored without them, and advances meta.indexedThrough. Returns how
 * many pages are left. Safe with several tabs: each chunk re-reads the meta
 * record in its own transaction.
 */
export async function indexBacklog(db: ChronicleDB, maxPages: number): Promise<number> {
  const tx = db.transaction(['pages', 'pageIndex', 'meta'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const meta = await metaStore.get('client');
  const range = meta ? backlogRange(meta) : null;
  if (!meta || !range) {
    await tx.done;
    return 0;
  }
  const pages = tx.objectStore('pages');
  const [{ keys, pages: values }, total] = await Promise.all([readPages(pages, range, maxPages), pages.count(range)]);
  values.forEach((page, i) => {
    const events = decodePageJson(page.json);
    tx.objectStore('pageIndex').put(indexOfEvents(events, meta.clientId), keys[i]!).catch(ignore);
  });
  const last = keys[keys.length - 1];
  const lastPage = values[values.length - 1];
  if (last && lastPage) meta.indexedThrough = last[1] + lastPage.count - 1;
  if (meta.indexedThrough !== undefined && meta.indexedThrough >= meta.confirmedHead) delete meta.indexedThrough;
  metaStore.put(meta, 'client').catch(ignore);
  await tx.done;
  return total - values.length;
}
