/**
 * The log as the panel holds it: pages of two areas merged into log order
 * (confirmed by position, then pending), and what a progress bar says about
 * reading it. Pure functions over LogState.
 */
import { formatCount } from '../format.ts';
import type { DevtoolsEntry } from '../types.ts';
import type { LogState, PanelState } from './state.ts';

/** Aggregate ids offered as filter suggestions, at most. */
export const MAX_AGGREGATE_SAMPLE = 500;

export interface PageAdded {
  log: LogState;
  /** Where the page's entries start in the new log. */
  from: number;
  /** The page went at the end of the log (a plain append). */
  atEnd: boolean;
}

/** Appends without spreading (a spread of 100k arguments overflows the stack). */
function concat<T>(list: readonly T[], items: readonly T[]): T[] {
  const out = list.slice();
  for (const item of items) out.push(item);
  return out;
}

/**
 * Event types and the first aggregate ids, with what a batch adds; the same
 * arrays when it adds nothing. What is new is gathered first and the lists
 * copied once per batch: a copy per new type made an import of many distinct
 * types quadratic.
 */
function noteBatch(log: LogState, batch: readonly DevtoolsEntry[]): Pick<LogState, 'eventTypes' | 'aggregateSample'> {
  if (batch.length === 0) return { eventTypes: log.eventTypes, aggregateSample: log.aggregateSample };
  const types = new Set(log.eventTypes);
  const newTypes: string[] = [];
  const room = MAX_AGGREGATE_SAMPLE - log.aggregateSample.length;
  const sample = room > 0 ? new Set(log.aggregateSample) : undefined;
  const newIds: string[] = [];
  for (const { event } of batch) {
    if (!types.has(event.type)) {
      types.add(event.type);
      newTypes.push(event.type);
    }
    if (sample && newIds.length < room && !sample.has(event.aggregateId)) {
      sample.add(event.aggregateId);
      newIds.push(event.aggregateId);
    }
  }
  return {
    eventTypes: newTypes.length === 0 ? log.eventTypes : concat(log.eventTypes, newTypes),
    aggregateSample: newIds.length === 0 ? log.aggregateSample : concat(log.aggregateSample, newIds),
  };
}

/** Event types the source knows before any event is read. */
export function withKnownTypes(log: LogState, types: readonly string[]): LogState {
  const missing = types.filter((type) => !log.eventTypes.includes(type));
  return missing.length === 0 ? log : { ...log, eventTypes: [...log.eventTypes, ...missing] };
}

/** A page of one area: confirmed pages go before the pending events, pending ones at the end. */
export function addPage(log: LogState, area: 'confirmed' | 'pending', batch: readonly DevtoolsEntry[]): PageAdded {
  const last = batch[batch.length - 1]!.cursor;
  const noted = noteBatch(log, batch);
  if (area === 'pending') {
    const entries = concat(log.entries, batch);
    return { log: { ...log, ...noted, entries, lastPending: last }, from: log.entries.length, atEnd: true };
  }
  const from = log.pendingStart;
  const entries =
    from === log.entries.length ? concat(log.entries, batch) : log.entries.slice(0, from).concat(batch, log.entries.slice(from));
  return {
    log: { ...log, ...noted, entries, pendingStart: from + batch.length, lastConfirmed: last },
    from,
    atEnd: from + batch.length === entries.length,
  };
}

/** The pending area read again from its start: it replaces the pending entries. */
export function replacePending(log: LogState, fresh: readonly DevtoolsEntry[]): LogState {
  const entries = concat(log.entries.slice(0, log.pendingStart), fresh);
  const lastPending = fresh.length > 0 ? fresh[fresh.length - 1]!.cursor : null;
  return { ...log, ...noteBatch(log, fresh), entries, lastPending };
}

export interface ProgressView {
  state: 'loading' | 'ready' | 'error';
  loaded: number;
  /** While loading: the bar's maximum and its text. */
  expected: number;
  text: string;
}

export function progressView({ log }: PanelState): ProgressView {
  const loaded = log.entries.length;
  const expected = Math.max(log.expected, loaded, 1);
  return {
    state: log.error ? 'error' : log.loading ? 'loading' : 'ready',
    loaded,
    expected,
    text: `Loading ${formatCount(loaded)} of ${formatCount(expected)} events…`,
  };
}

/** What the log pane says when no row shows, or null. */
export function emptyText(state: PanelState): string | null {
  if (state.log.loading || state.filter.running || state.filter.shown.length > 0) return null;
  return state.log.entries.length === 0 ? 'The log is empty.' : 'No event matches the filters.';
}
