/** What a listed event says about itself: its status badge and the facts the detail lists. */
import { formatDateTime } from '../format.ts';
import type { DevtoolsEntry } from '../types.ts';
import type { PanelState } from './state.ts';

/**
 * confirmed: the server gave it a position; pending: waiting for the server;
 * local: the store does not sync (opened without `sync`), so it never will;
 * rebased: re-sequenced by a rebase during this session.
 */
export type RowStatus = 'confirmed' | 'pending' | 'local' | 'rebased';

export function rowStatus(state: PanelState, entry: DevtoolsEntry): RowStatus {
  const { event } = entry;
  if (state.rebased.has(event.id)) return 'rebased';
  if (event.position !== undefined) return 'confirmed';
  return state.sync?.state === 'disabled' ? 'local' : 'pending';
}

export interface Badge {
  status: RowStatus;
  text: string;
  title: string;
}

export function badge(state: PanelState, entry: DevtoolsEntry): Badge {
  const status = rowStatus(state, entry);
  const { position } = entry.event;
  switch (status) {
    case 'confirmed':
      return { status, text: `✓ ${position}`, title: `Confirmed by the server at position ${position}` };
    case 'rebased':
      return {
        status,
        text: status,
        title: `Re-sequenced by a sync rebase during this session${position !== undefined ? `, now confirmed at ${position}` : ', still pending'}`,
      };
    case 'local':
      return { status, text: status, title: 'Local: this store does not sync (it was opened without sync), so no server confirms it' };
    case 'pending':
      return { status, text: status, title: 'Pending: not yet confirmed by the server' };
  }
}

/** The facts of an event, as label and value, for the detail; `logIndex` is its 0-based place in the log. */
export function eventFacts(entry: DevtoolsEntry, logIndex: number, status: RowStatus): [string, string][] {
  const { event } = entry;
  const noPosition = status === 'local' ? 'none (this store does not sync)' : 'pending';
  return [
    ['Aggregate', `${event.aggregateType} ${event.aggregateId}`],
    ['Seq', String(event.seq)],
    ['Position', event.position !== undefined ? String(event.position) : noPosition],
    ['Occurred', formatDateTime(event.meta.occurredAt)],
    ['Event id', event.id],
    [
      'Version',
      event.version === event.storedVersion ? String(event.version) : `${event.version} (stored as ${event.storedVersion}, upcast on read)`,
    ],
    ['Log index', String(logIndex + 1)],
    ...unreadableFact(event),
  ];
}

/** Why this app cannot read the event, when it cannot: its upcast failed, or it does not define its type or version. */
function unreadableFact(event: DevtoolsEntry['event']): [string, string][] {
  if (event.known) return [];
  return [
    ['Unreadable', event.upcastError ?? `this app does not define ${event.type} v${event.storedVersion}: its data is shown as stored`],
  ];
}
