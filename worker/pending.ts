import type { StoredEvent } from '../src/core/event.ts';
import { foreignPendingCount } from '../src/core/unfinished-work.ts';
import { decodePageJson } from './page-codec.ts';
import type { ChronicleDB, MetaRecord, PageRecord } from './db.ts';
import { keptWithSlots, pendingPageOf } from './page-builder.ts';
import { deletePage, putPendingPage, readPages, type WriteTx } from './page-store.ts';
import { PENDING, type PageKey } from './types.ts';

/**
 * Both ends of the pending area: all pending page keys sort between these.
 * Made on first use, not at import: importing the engine where there is no
 * IndexedDB (Node, SSR) must not throw.
 */
let pendingRange: IDBKeyRange | undefined;
export function pendingRangeAll(): IDBKeyRange {
  pendingRange ??= IDBKeyRange.bound([PENDING, -Infinity], [PENDING, Infinity]);
  return pendingRange;
}

/**
 * This client's first pending events in clientSeq order (= pending page order), bounded by count and
 * bytes. Other clients' pending events (importLog of another device's export) are passed over: they
 * reach the server from their own device only.
 */
export async function readPendingEvents(db: ChronicleDB, clientId: string, maxEvents: number, maxBytes: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let bytes = 0;
  let lower: PageKey | undefined;
  for (;;) {
    const range = lower ? IDBKeyRange.bound(lower, [PENDING, Infinity], true) : pendingRangeAll();
    const { keys, pages } = await readPages(db.transaction('pages').store, range, 16);
    for (const page of pages) {
      for (const event of decodePageJson(page.json)) {
        if (event.meta.clientId !== clientId) continue;
        const size = JSON.stringify(event).length;
        if (out.length >= maxEvents || (out.length > 0 && bytes + size > maxBytes)) return out;
        out.push(event);
        bytes += size;
      }
    }
    if (pages.length < 16) return out;
    lower = keys[keys.length - 1];
  }
}

/**
 * The meta.occurredAt of this client's oldest pending event (page t0 sizes it
 * when all pending events are its own), or null when it has none pending.
 * Another device's pending events (importLog) are passed over: they are not
 * this client's to push.
 */
export async function oldestOwnPendingAt(db: ChronicleDB): Promise<number | null> {
  const tx = db.transaction(['pages', 'meta']);
  const [meta, first] = await Promise.all([tx.objectStore('meta').get('client'), tx.objectStore('pages').openCursor(pendingRangeAll())]);
  if (!first || !meta || foreignPendingCount(meta) === 0) return first ? first.value.t0 : null;
  for (let cursor: typeof first | null = first; cursor; cursor = await cursor.continue()) {
    let oldest = Infinity;
    for (const e of decodePageJson(cursor.value.json)) if (e.meta.clientId === meta.clientId) oldest = Math.min(oldest, e.meta.occurredAt);
    if (oldest !== Infinity) return oldest;
  }
  return null;
}

/**
 * Counts the other clients' pending events anew and stamps the count (MetaRecord.foreignPending), in one
 * transaction with the pages it counts. For a count found wrong by a full pass over the pending area
 * (planRebase): events an older build's importLog stored uncounted, or a count an older build's rewrite
 * left unknown. Without it such events stayed counted as this client's own for good (never pushed, so
 * never confirmed from here: sync.status().pending above 0, deleteStore refusing), and a pull that
 * confirmed them did not look for them.
 */
export async function recountForeignPending(db: ChronicleDB): Promise<void> {
  const tx = db.transaction(['pages', 'meta'], 'readwrite');
  const meta = await tx.objectStore('meta').get('client');
  if (!meta) return;
  let foreign = 0;
  let lower: PageKey | undefined;
  for (;;) {
    const range = lower ? IDBKeyRange.bound(lower, [PENDING, Infinity], true) : pendingRangeAll();
    const { keys, pages } = await readPages(tx.objectStore('pages'), range, 32);
    for (const page of pages) for (const e of decodePageJson(page.json)) if (e.meta.clientId !== meta.clientId) foreign++;
    if (pages.length < 32) break;
    lower = keys[keys.length - 1];
  }
  if (foreign > 0) meta.foreignPending = { count: foreign, rewrites: meta.pendingRewrites ?? 0 };
  else delete meta.foreignPending;
  tx.objectStore('meta')
    .put(meta, 'client')
    .catch(() => undefined);
  await tx.done;
}

/**
 * Rewrites pending pages through `edit`, which returns the events to keep (in
 * order; it may change them in place). Empty pages are deleted; every other
 * page is written again with its own index entries (so no page relies on a
 * commit's first page any more, and no commit's stream entries wait: `meta`,
 * which the caller stores, forgets them). Runs inside the caller's
 * transaction (which must cover pages and pageIndex). Other clients' pending
 * events kept are counted again (MetaRecord.foreignPending): `edit` sees every
 * event, and is the one to leave theirs as they are.
 */
export async function rewritePendingPages(
  tx: WriteTx,
  meta: MetaRecord,
  edit: (events: StoredEvent[]) => StoredEvent[],
): Promise<{ before: number; after: number }> {
  const { keys, pages: values } = await readPages(tx.objectStore('pages'), pendingRangeAll());
  // Every page gets its own entries again: the records of commits of several pages go.
  tx.objectStore('pageIndex')
    .delete(pendingRangeAll())
    .catch(() => undefined);
  delete meta.laterFrom;
  delete meta.laterEntries;
  // Projections' pending layers folded the events as they were: they fold them again (projection-runner.ts).
  meta.pendingRewrites = (meta.pendingRewrites ?? 0) + 1;
  const all: { key: PageKey; page: PageRecord; events: StoredEvent[] }[] = values.map((page, i) => ({
    key: keys[i]!,
    page,
    events: decodePageJson(page.json),
  }));
  const flat = all.flatMap((p) => p.events);
  const kept = new Set(edit(flat));
  let after = 0;
  let foreign = 0;
  for (const event of kept) if (event.meta.clientId !== meta.clientId) foreign++;
  if (foreign > 0) meta.foreignPending = { count: foreign, rewrites: meta.pendingRewrites };
  else delete meta.foreignPending;
  for (const { key, page, events } of all) {
    // The events left keep their places (slots): a cursor taken before names the same event.
    const { events: remaining, slots } = keptWithSlots(page, events, (e) => kept.has(e));
    after += remaining.length;
    if (remaining.length === 0) deletePage(tx, key);
    else putPendingPage(tx, key, pendingPageOf(remaining, slots));
  }
  return { before: flat.length, after };
}
