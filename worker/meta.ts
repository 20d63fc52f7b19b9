import type { MetaRecord } from './db.ts';

export function newMeta(clientId: string): MetaRecord {
  return { clientId, nextClientSeq: 1, nextLsn: 1, pendingEvents: 0, confirmedEvents: 0, confirmedHead: 0 };
}
