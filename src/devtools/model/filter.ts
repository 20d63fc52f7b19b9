/**
 * Which events the filters let through, and what the filtered view says
 * (counts, the export's label and what an export of it asks the store for).
 */
import { formatCount } from '../format.ts';
import type { DevtoolsEntry, LogFilter } from '../types.ts';
import type { Filter, FilterState, PanelState } from './state.ts';

export function hasFilter(f: Filter): boolean {
  return Boolean(f.aggregate || f.type || f.text || f.from !== undefined || f.to !== undefined);
}

/** Whether some entry belongs to exactly the aggregate the filter names. */
export function namesAggregate(f: Filter, entries: readonly DevtoolsEntry[]): boolean {
  if (f.aggregate === '') return false;
  for (const { event } of entries) if (event.aggregateId === f.aggregate) return true;
  return false;
}

/** The text the free-text filter searches, per entry, computed once. */
const haystacks = new WeakMap<DevtoolsEntry, string>();

function haystackOf(entry: DevtoolsEntry): string {
  let haystack = haystacks.get(entry);
  if (haystack === undefined) {
    haystack = JSON.stringify(entry.event).toLowerCase();
    haystacks.set(entry, haystack);
  }
  return haystack;
}

/** A test for one entry; `exact`: the aggregate filter is an id of the log (else a part of one). */
export function matcher(f: Filter, exact: boolean): (entry: DevtoolsEntry) => boolean {
  if (!hasFilter(f)) return () => true;
  const aggregate = f.aggregate.toLowerCase();
  const text = f.text.toLowerCase();
  return (entry) => {
    const { event } = entry;
    if (aggregate) {
      if (exact ? event.aggregateId !== f.aggregate : !event.aggregateId.toLowerCase().includes(aggregate)) return false;
    }
    if (f.type && event.type !== f.type) return false;
    if (f.from !== undefined && event.meta.occurredAt < f.from) return false;
    if (f.to !== undefined && event.meta.occurredAt > f.to + 999) return false;
    if (text && !haystackOf(entry).includes(text)) return false;
    return true;
  };
}

/** Indices of entries[from..] that match. */
export function matchingFrom(entries: readonly DevtoolsEntry[], from: number, matches: (entry: DevtoolsEntry) => boolean): number[] {
  const out: number[] = [];
  for (let i = from; i < entries.length; i++) if (matches(entries[i]!)) out.push(i);
  return out;
}

/**
 * Filters entries[from..] into `shown` until `due()` says the slice's time
 * is up, asked after every entry: one event's text can be 250 KB of JSON, so
 * a count of entries says nothing of the work done. Returns where it stopped.
 */
export function filterSlice(
  entries: readonly DevtoolsEntry[],
  from: number,
  matches: (entry: DevtoolsEntry) => boolean,
  shown: number[],
  due: () => boolean,
): number {
  let i = from;
  while (i < entries.length) {
    if (matches(entries[i]!)) shown.push(i);
    i++;
    if (due()) break;
  }
  return i;
}

/**
 * Whether the listed rows changed from `prev` to `next` only by rows added at
 * the end: filtered as they came in, or by a pass over just the appended
 * entries (not a pass over the whole log, which lists anew).
 */
export function rowsAppended(prev: FilterState, next: FilterState): boolean {
  if (next.running || prev.run !== next.run || next.shown.length <= prev.shown.length) return false;
  return !prev.running || next.from > 0;
}

/** "6 events", or "2 of 6" under a filter. */
export function countText(state: PanelState): string {
  const total = state.log.entries.length;
  return hasFilter(state.filter.filter)
    ? `${formatCount(state.filter.shown.length)} of ${formatCount(total)}`
    : `${formatCount(total)} events`;
}

export interface ExportView {
  label: string;
  title: string;
}

export function exportView(state: PanelState): ExportView {
  if (!hasFilter(state.filter.filter)) return { label: 'Export', title: 'Download the whole log as NDJSON' };
  const shown = formatCount(state.filter.shown.length);
  return { label: `Export ${shown}`, title: `Download the ${shown} events the filters let through as NDJSON` };
}

export interface ExportPlan {
  /** What the store narrows by: type, time and an exact aggregate. */
  filter: LogFilter;
  /** The ids listed, which decide the rest; absent: every line. */
  ids?: ReadonlySet<string>;
  /** Whether the file holds the filtered part only. */
  filtered: boolean;
}

/** What an export of the panel's view asks the store for. */
export function exportPlan(state: PanelState): ExportPlan {
  const f = state.filter.filter;
  if (!hasFilter(f)) return { filter: {}, filtered: false };
  const filter: LogFilter = {};
  if (f.type) filter.types = [f.type];
  if (f.from !== undefined) filter.fromTime = f.from;
  if (f.to !== undefined) filter.toTime = f.to + 999;
  if (f.aggregate && state.filter.exact) filter.aggregateIds = [f.aggregate];
  const { entries } = state.log;
  const ids = new Set(state.filter.shown.map((k) => entries[k]!.event.id));
  return { filter, ids, filtered: true };
}
