/** The sync view: status in a line and in figures, this client's pending ranges, the outcomes seen. */
import { formatClock, formatCount } from '../format.ts';
import type { EventOutcome } from '../types.ts';
import type { PanelState } from './state.ts';

/** Outcomes kept, newest first. */
export const MAX_OUTCOMES = 100;

/** Outcomes arrived: rebased ones mark their events, rejected ones ask for the rejected list again. */
export function seeOutcomes(state: PanelState, at: number, outcomes: readonly EventOutcome[]): PanelState {
  if (outcomes.length === 0) return state;
  let rebased: Set<string> | undefined;
  let rejected = false;
  const seen = state.outcomes.slice();
  for (const outcome of outcomes) {
    if (outcome.status === 'rebased' && !state.rebased.has(outcome.id)) {
      rebased ??= new Set(state.rebased);
      rebased.add(outcome.id);
    }
    if (outcome.status === 'rejected') rejected = true;
    seen.unshift({ at, outcome });
  }
  seen.length = Math.min(seen.length, MAX_OUTCOMES);
  return { ...state, rebased: rebased ?? state.rebased, outcomes: seen, rejections: rejected ? state.rejections + 1 : state.rejections };
}

/** The header's one line: "online · 3 pending"; a store without sync keeps its events local, never pending. */
export function syncSummary({ sync }: PanelState): string {
  if (!sync) return 'sync: unknown';
  if (sync.state === 'disabled') return `sync off · ${formatCount(sync.pending)} local`;
  return `${sync.state} · ${formatCount(sync.pending)} pending`;
}

export interface Stat {
  label: string;
  value: string;
  testid?: string;
}

/** This client's pending events as clientSeq ranges (what a push sends), from the events listed. */
export function pendingRanges(state: PanelState): string {
  const clientId = state.info?.clientId;
  const { entries, pendingStart } = state.log;
  const seqs: number[] = [];
  for (let i = pendingStart; i < entries.length; i++) {
    const { meta } = entries[i]!.event;
    if (meta.clientId === clientId) seqs.push(meta.clientSeq);
  }
  if (seqs.length === 0) return 'none';
  seqs.sort((a, b) => a - b);
  const ranges: string[] = [];
  let from = seqs[0]!;
  let to = from;
  for (const seq of seqs.slice(1)) {
    if (seq === to + 1) to = seq;
    else {
      ranges.push(from === to ? `${from}` : `${from}–${to}`);
      from = to = seq;
    }
  }
  ranges.push(from === to ? `${from}` : `${from}–${to}`);
  return ranges.length > 4 ? `${ranges.slice(0, 4).join(', ')} +${ranges.length - 4}` : ranges.join(', ');
}

export function syncStats(state: PanelState): Stat[] {
  const status = state.sync;
  const stats: Stat[] = [
    {
      label: 'State',
      value: status ? (status.state === 'disabled' ? 'disabled (no server)' : status.state) : '—',
      testid: 'devtools-sync-state',
    },
    { label: 'Server head', value: status ? formatCount(status.serverHead) : '—', testid: 'devtools-sync-head' },
    { label: 'Confirmed position', value: status ? formatCount(status.confirmedPosition) : '—', testid: 'devtools-sync-confirmed' },
    { label: 'Behind', value: status ? formatCount(Math.max(0, status.serverHead - status.confirmedPosition)) : '—' },
    {
      label: status?.state === 'disabled' ? 'Local (never synced)' : 'Pending',
      value: status ? formatCount(status.pending) : '—',
      testid: 'devtools-sync-pending',
    },
    { label: 'Last sync', value: status?.lastSyncAt ? formatClock(status.lastSyncAt) : '—' },
    { label: 'Pending ranges', value: pendingRanges(state), testid: 'devtools-sync-ranges' },
    { label: 'This tab', value: !status || status.state === 'disabled' ? '—' : status.leader ? 'syncs (leader)' : 'standby' },
  ];
  if (status?.progress)
    stats.push({ label: 'Catching up', value: `${formatCount(status.progress.pulled)} / ${formatCount(status.progress.target)}` });
  return stats;
}

export function syncErrorText({ sync }: PanelState): string | null {
  return sync?.lastError ? `Last error: ${sync.lastError.code}: ${sync.lastError.message}` : null;
}

/** What an outcome's line says after its status. */
export function outcomeDetail(outcome: EventOutcome): string {
  if (outcome.status === 'confirmed')
    return `position ${outcome.position ?? '?'}${outcome.seq !== undefined ? `, seq ${outcome.seq}` : ''}`;
  if (outcome.status === 'rebased') return `seq ${outcome.previousSeq ?? '?'} → ${outcome.seq ?? '?'}`;
  return outcome.reason ?? '';
}
