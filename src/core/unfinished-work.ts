import type { UnfinishedWork } from './errors.ts';
import { reactionCaughtUp } from './reaction.ts';

/**
 * What deleteStore counts as unfinished work (what deleting a store would
 * lose), from the engine's records as stored. Pure: no I/O.
 */

/** The parts of the engine's records deleteStore reads (worker/db.ts): only what says work is unfinished. */
export interface StoredMeta {
  confirmedHead: number;
  nextLsn: number;
  pendingEvents: number;
  deleting?: number;
  pendingRewrites?: number;
  foreignPending?: ForeignPending;
}

/**
 * How many of the pending events are other clients' (importLog of another device's export): copies of
 * that device's unsynced edits, which this store never pushes (worker/db.ts, MetaRecord.foreignPending).
 * `rewrites` is the log's pendingRewrites when the count was last exact: a build that rewrites pending
 * events without keeping this count (an older one, in another tab) moves pendingRewrites past it.
 */
export interface ForeignPending {
  count: number;
  rewrites: number;
}

/**
 * The exact count of other clients' pending events: 0 when none was ever counted (a store that never
 * imported another device's pending events; or an older build's importLog stored some uncounted, which
 * then count as own, as they did there), undefined when unknown (a rewrite by a build that does not
 * keep the count came since).
 */
export function foreignPendingCount(meta: Pick<StoredMeta, 'foreignPending' | 'pendingRewrites'>): number | undefined {
  const foreign = meta.foreignPending;
  if (foreign === undefined) return 0;
  return foreign.rewrites === (meta.pendingRewrites ?? 0) ? foreign.count : undefined;
}

/** This client's own pending events: what only this store can push. Every pending event while the foreign count is unknown. */
export function ownPendingEvents(meta: Pick<StoredMeta, 'pendingEvents' | 'foreignPending' | 'pendingRewrites'>): number {
  return Math.max(0, meta.pendingEvents - (foreignPendingCount(meta) ?? 0));
}
export interface StoredReaction {
  name: string;
  on: 'local' | 'confirmed';
  confirmed: number;
  pendingLsn: number;
  inFlight: unknown;
  forgottenAt?: number;
}

/** The store's unfinished work, from its records. */
export function unfinishedWork(
  meta: StoredMeta | undefined,
  reactions: readonly StoredReaction[],
  parked: readonly (readonly [string, string])[],
  rejectedEvents: number,
): UnfinishedWork {
  const withParked = new Set(parked.map(([reaction]) => reaction));
  const log = meta ? { confirmedHead: meta.confirmedHead, nextLsn: meta.nextLsn } : undefined;
  return {
    // Another device's pending events copied here are not lost with this store: they reach the server from that device only.
    pendingEvents: meta ? ownPendingEvents(meta) : 0,
    reactions: reactions
      .filter((r) => r.forgottenAt === undefined && (!reactionCaughtUp(r, log) || withParked.has(r.name)))
      .map((r) => r.name),
    rejectedEvents,
  };
}

export const hasWork = (work: UnfinishedWork): boolean => work.pendingEvents > 0 || work.reactions.length > 0 || work.rejectedEvents > 0;
