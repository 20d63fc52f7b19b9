import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleDB, RejectedRecord } from './db.ts';
import { findStoredEvents } from './lookups.ts';
import { backlogRange, readPages } from './page-store.ts';
import { decodePageJson } from './page-codec.ts';
import type { EventSyncState } from './types.ts';

/**
 * Where each of `ids` stands now (sync.outcomeOf), from what is stored. The
 * outcomes onOutcome tells are told once, after the commit that decides them,
 * to the tabs open then: an engine that dies right after that commit (a tab
 * closed or reloaded mid-round) told nobody, and the next session finds those
 * events decided already. This is how an app learns them then.
 */
export async function eventSyncStates(db: ChronicleDB, ids: readonly string[]): Promise<EventSyncState[]> {
  const unique = [...new Set(ids)];
  const tx = db.transaction(['pages', 'pageIndex', 'rejected', 'meta'], 'readonly');
  const dropped = new Set<string>();
  const [indexed, rejected, meta] = await Promise.all([
    findStoredEvents(tx, unique, dropped),
    Promise.all(unique.map((id) => tx.objectStore('rejected').get(id))),
    tx.objectStore('meta').get('client'),
  ]);
  const stored = new Map([...indexed].map(([id, { event }]) => [id, event]));
  // Confirmed pages the engine has not indexed yet (it does when idle): their ids are in no index.
  const range = meta ? backlogRange(meta) : null;
  if (range && stored.size + dropped.size < unique.length) {
    const wanted = new Set(unique.filter((id) => !stored.has(id) && !dropped.has(id)));
    const { pages } = await readPages(tx.objectStore('pages'), range);
    for (const page of pages) for (const event of decodePageJson(page.json)) if (wanted.has(event.id)) stored.set(event.id, event);
  }
  const rejectedById = new Map<string, RejectedRecord>();
  unique.forEach((id, i) => {
    const record = rejected[i];
    if (record) rejectedById.set(id, record);
  });
  return ids.map((id) => stateOf(id, stored.get(id), rejectedById.get(id), dropped.has(id)));
}

/** One event's state from what was found of it: its stored copy, its rejected record, or a compaction record. */
export function stateOf(
  id: string,
  event: StoredEvent | undefined,
  rejected: RejectedRecord | undefined,
  dropped: boolean,
): EventSyncState {
  if (event) {
    const { aggregateId, type, seq, position } = event;
    return position === undefined
      ? { id, status: 'pending', aggregateId, type, seq }
      : { id, status: 'confirmed', aggregateId, type, seq, position };
  }
  if (rejected) {
    return { id, status: 'rejected', aggregateId: rejected.event.aggregateId, type: rejected.event.type, reason: rejected.reason };
  }
  // Compaction drops confirmed pages only, and keeps this client's ids of them.
  return dropped ? { id, status: 'confirmed' } : { id, status: 'unknown' };
}
