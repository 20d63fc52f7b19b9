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
    pendingEvents: meta?.pendingEvents ?? 0,
    reactions: reactions
      .filter((r) => r.forgottenAt === undefined && (!reactionCaughtUp(r, log) || withParked.has(r.name)))
      .map((r) => r.name),
    rejectedEvents,
  };
}

export const hasWork = (work: UnfinishedWork): boolean => work.pendingEvents > 0 || work.reactions.length > 0 || work.rejectedEvents > 0;
