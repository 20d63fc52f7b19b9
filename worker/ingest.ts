import { ChronicleError } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleDB } from './db.ts';
import { buildPages, entryOf } from './page-builder.ts';
import { CONFIRMED } from './types.ts';

const ignore = (): void => undefined;

export interface IngestResult {
  /** Events stored by this call (already-stored positions are skipped). */
  stored: number;
  head: number;
  moved: [string, number][];
}

function checkEvent(e: StoredEvent, i: number): void {
  const bad = (field: string): never => {
    throw new ChronicleError('VALIDATION', `Confirmed event at index ${i}: ${field} is missing or malformed`, { index: i, path: field });
  };
  if (typeof e !== 'object' || e === null) bad('(event)');
  if (typeof e.id !== 'string' || !e.id) bad('id');
  if (typeof e.aggregateId !== 'string' || !e.aggregateId) bad('aggregateId');
  if (typeof e.type !== 'string' || !e.type) bad('type');
  if (!Number.isInteger(e.seq) || e.seq < 1) bad('seq');
  if (!Number.isInteger(e.position) || (e.position ?? 0) < 1) bad('position');
  if (typeof e.meta !== 'object' || e.meta === null || typeof e.meta.clientId !== 'string') bad('meta.clientId');
  if (!Number.isFinite(e.meta.occurredAt)) bad('meta.occurredAt');
}

/**
 * Stores events the server has confirmed, in position order, as confirmed
 * pages. Positions must continue the stored confirmed head without a gap;
 * positions already stored are skipped, so ingesting the same pull page twice
 * stores it once. Event ids are indexed only for this client's own events:
 * the server keeps ids unique across its log, so only our own ids can come
 * back through a local append.
 */
export async function ingestConfirmed(db: ChronicleDB, events: readonly StoredEvent[]): Promise<IngestResult> {
  events.forEach(checkEvent);
  const tx = db.transaction(['pages', 'meta'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const meta = await metaStore.get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing; open the store first');
  const fresh = events.filter((e) => (e.position as number) > meta.confirmedHead);
  if (fresh.length === 0) {
    await tx.done;
    return { stored: 0, head: meta.confirmedHead, moved: [] };
  }
  let expected = meta.confirmedHead + 1;
  for (const e of fresh) {
    if (e.position !== expected) {
      tx.abort();
      await tx.done.catch(ignore);
      throw new ChronicleError(
        'POSITION_GAP',
        `Confirmed events must continue at position ${expected}, got ${e.position}`,
        { expected, got: e.position },
      );
    }
    expected++;
  }
  const entries = fresh.map((e) => entryOf(e, e.meta.clientId === meta.clientId));
  const pages = tx.objectStore('pages');
  let position = fresh[0]!.position as number;
  for (const page of buildPages(entries)) {
    pages.put(page, [CONFIRMED, position]).catch(ignore);
    position += page.count;
  }
  meta.confirmedHead = position - 1;
  meta.confirmedEvents += fresh.length;
  metaStore.put(meta, 'client').catch(ignore);
  await tx.done;
  const moved = new Map<string, number>();
  for (const e of fresh) if ((moved.get(e.aggregateId) ?? 0) < e.seq) moved.set(e.aggregateId, e.seq);
  return { stored: fresh.length, head: meta.confirmedHead, moved: [...moved] };
}
