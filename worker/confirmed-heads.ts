import type { IDBPTransaction, StoreNames } from 'idb';
import type { ChronicleSchema, MetaRecord } from './db.ts';
import { readBacklog } from './page-store.ts';
import { PENDING } from './types.ts';

/**
 * The highest confirmed seq of each aggregate, as a sync round's pulls find
 * them: what lets ingest refuse a pulled event that repeats one already held.
 *
 * The server gives each event once, at one position, and an aggregate's seqs
 * one after another. A server that serves an event again at a later position
 * (a hostile one replaying a ciphertext it cannot read or change, or a broken
 * one) would otherwise have it stored twice, and every replay, projection and
 * reaction count it twice: an order charged twice. Positions are checked where
 * pages are stored (consecutive) and ids within one page (transport.ts); this
 * is the check across pages, rounds and sessions. Only repeats are refused: a
 * gap in an aggregate's seqs is the server withholding events, which nothing
 * on the client can tell from compaction or an older build's history.
 *
 * Heads are read from storage once per aggregate per round (the confirmed
 * index, then the pages not indexed yet), and kept here as the round's pages
 * are stored: an initial sync of 100,000 events over 1,000 aggregates asks
 * storage 1,000 times, not once per page. Only the sync leader stores
 * confirmed pages, one round at a time, so what is kept stays true for the
 * round; a new round starts with an empty one. Should anything else store
 * some meanwhile (an importLog of confirmed events in another tab), a head
 * kept here is lower than the stored one (heads only grow): a repeat may
 * pass, a new event is never refused.
 */
export interface ConfirmedHeads {
  /** Highest confirmed seq per aggregate, for aggregates read or stored this round. */
  known: Map<string, number>;
  /** The heads of the confirmed pages not indexed when the round first asked (read once per round). */
  backlog?: Map<string, number>;
}

export function createConfirmedHeads(): ConfirmedHeads {
  return { known: new Map() };
}

/** What a pulled event is checked by. */
interface Placed {
  id: string;
  aggregateId: string;
  seq: number;
}

/**
 * The first event of `events` (in log order) whose seq is at or below its
 * aggregate's confirmed head, counting the ones before it, as a message; or
 * undefined. `headOf` gives the head stored before these events. Pure.
 */
export function repeatedSeqProblem(events: readonly Placed[], headOf: (aggregateId: string) => number): string | undefined {
  const heads = new Map<string, number>();
  for (const e of events) {
    const head = heads.get(e.aggregateId) ?? headOf(e.aggregateId);
    if (e.seq <= head) {
      return `event ${e.id.slice(0, 80)} is seq ${e.seq} of aggregate ${e.aggregateId.slice(0, 80)}, which holds seqs up to ${head} already`;
    }
    heads.set(e.aggregateId, e.seq);
  }
  return undefined;
}

/** Notes the heads a stored page moved. */
export function noteStored(heads: ConfirmedHeads, events: readonly Placed[]): void {
  for (const e of events) if ((heads.known.get(e.aggregateId) ?? 0) < e.seq) heads.known.set(e.aggregateId, e.seq);
}

type HeadsTx = IDBPTransaction<ChronicleSchema, StoreNames<ChronicleSchema>[], IDBTransactionMode>;

/**
 * The highest seq of an aggregate in the confirmed index: its confirmed
 * pages' and dropped pages' records. Pending commits of several pages have
 * records there too (above every confirmed seq of theirs), which are passed.
 */
async function indexedConfirmedHead(tx: HeadsTx, aggregateId: string): Promise<number> {
  const range = IDBKeyRange.bound([aggregateId], [aggregateId, []]);
  let cursor = await tx.objectStore('pageIndex').index('stream').openKeyCursor(range, 'prev');
  while (cursor && cursor.primaryKey[0] === PENDING) cursor = await cursor.continue();
  return cursor ? cursor.key[1] : 0;
}

/** Reads into `heads` the confirmed heads of the aggregates it does not know yet (in the caller's transaction). */
export async function loadConfirmedHeads(
  tx: HeadsTx,
  meta: MetaRecord,
  heads: ConfirmedHeads,
  aggregateIds: Iterable<string>,
): Promise<void> {
  const unknown = [...new Set(aggregateIds)].filter((id) => !heads.known.has(id));
  if (unknown.length === 0) return;
  heads.backlog ??= (await readBacklog(tx, meta)).heads;
  const backlog = heads.backlog;
  const indexed = await Promise.all(unknown.map((id) => indexedConfirmedHead(tx, id)));
  unknown.forEach((id, i) => heads.known.set(id, Math.max(indexed[i]!, backlog.get(id) ?? 0)));
}
