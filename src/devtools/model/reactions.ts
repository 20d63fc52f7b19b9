/** The reactions view: each reaction's status and the parked events, as text (no DOM: unit-tested in Node). */
import { formatCount } from '../format.ts';
import type { ParkedView, ReactionStatus } from '../types.ts';

/** A reaction's state in a word, and what it says after it. */
export function reactionState(status: ReactionStatus): { state: 'waiting' | 'failing' | 'working' | 'caught-up'; text: string } {
  // This tab stopped before an event a newer app version wrote: say so first, it is what unblocks the reaction.
  if (status.unreadable) {
    const { type, storedVersion } = status.unreadable;
    return { state: 'waiting', text: `waits for a newer app version (${type} v${storedVersion} is unreadable here)` };
  }
  if (status.inFlight && status.inFlight.attempts > 0) {
    const error = status.inFlight.lastError ? `: ${status.inFlight.lastError}` : '';
    return { state: 'failing', text: `retrying (attempt ${status.inFlight.attempts + 1})${error}` };
  }
  if (!status.caughtUp) return { state: 'working', text: 'catching up' };
  return { state: 'caught-up', text: 'caught up' };
}

/** Where it runs, on what, how far: "runs in this tab · on local events · 2 parked". */
export function reactionFacts(status: ReactionStatus): string {
  const where = status.leader ? 'runs in this tab' : 'runs in another tab (or none)';
  const on = status.on === 'confirmed' ? 'on confirmed events' : 'on local events';
  const through = status.confirmedThrough > 0 ? ` · through position ${formatCount(status.confirmedThrough)}` : '';
  return `${where} · ${on}${through} · ${formatCount(status.parked)} parked`;
}

/** The event a parked row is about: "ItemAdded o1 #3". */
export function parkedEventText(parked: ParkedView): string {
  return `${parked.type} ${parked.aggregateId} #${parked.seq}`;
}
