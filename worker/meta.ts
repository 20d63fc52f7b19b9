import type { MetaRecord } from './db.ts';
import { backlogRange } from './page-store.ts';

export function newMeta(clientId: string): MetaRecord {
  return { clientId, nextClientSeq: 1, nextLsn: 1, pendingEvents: 0, confirmedEvents: 0, confirmedHead: 0 };
}

/** The first confirmed position stored (1 until compaction dropped some). */
export function historyStartOf(meta: MetaRecord | undefined): number {
  return meta?.compaction?.historyStartsAt ?? 1;
}

/**
 * Whether the log holds no event at all, so every stream's head is 0. A
 * compacted log never counts as empty: it keeps heads of events it no longer
 * counts; neither does one with confirmed pages not indexed yet.
 */
export function holdsNoEvent(meta: MetaRecord): boolean {
  return meta.pendingEvents === 0 && meta.confirmedEvents === 0 && meta.compaction === undefined && !backlogRange(meta);
}
