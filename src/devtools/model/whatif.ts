/**
 * What-if: events ticked to leave out, and the state query that shows the
 * selected aggregate without them (nothing is written).
 */
import type { InspectRequest } from '../types.ts';
import { selectedEntry, shownEntry } from './selection.ts';
import type { PanelState, SkipInfo } from './state.ts';

/** Ticks (or unticks) the `index`-th listed event. */
export function setSkip(state: PanelState, index: number, skip: boolean): PanelState {
  const entry = shownEntry(state, index);
  if (!entry) return state;
  const { event } = entry;
  if (skip === state.skips.has(event.id)) return state;
  const skips = new Map(state.skips);
  if (skip) skips.set(event.id, { aggregateType: event.aggregateType, aggregateId: event.aggregateId, type: event.type, seq: event.seq });
  else skips.delete(event.id);
  return { ...state, skips };
}

export function removeSkip(state: PanelState, id: string): PanelState {
  if (!state.skips.has(id)) return state;
  const skips = new Map(state.skips);
  skips.delete(id);
  return { ...state, skips };
}

export interface SkipChip {
  id: string;
  text: string;
  /** The remove button's label. */
  label: string;
}

export function skipChips(skips: ReadonlyMap<string, SkipInfo>): SkipChip[] {
  return [...skips].map(([id, info]) => ({
    id,
    text: `${info.type} · ${info.aggregateId} #${info.seq}`,
    label: `Put back ${info.type} ${info.aggregateId} #${info.seq}`,
  }));
}

export interface WhatIfView {
  /** The line above the result. */
  intro: string;
  /** The states to compute (the what-if one, and the real one to compare with); null: nothing to show. */
  query: InspectRequest | null;
}

export function whatIfView(state: PanelState): WhatIfView {
  const entry = selectedEntry(state);
  if (!entry) {
    return {
      intro:
        'Tick events in the log to leave them out, then select an event of an aggregate to see its state without them. The log is not touched.',
      query: null,
    };
  }
  const { aggregateType, aggregateId } = entry.event;
  const skip = [...state.skips]
    .filter(([, info]) => info.aggregateId === aggregateId && info.aggregateType === aggregateType)
    .map(([id]) => id);
  const at = state.travel ? 'as of the time-travel position' : 'at the head';
  if (skip.length === 0) {
    return {
      intro: `Tick events of ${aggregateType} ${aggregateId} in the log to see its state ${at} without them. The log is not touched.`,
      query: null,
    };
  }
  return {
    intro: `${aggregateType} ${aggregateId} ${at}, without ${skip.length} event${skip.length === 1 ? '' : 's'}. Nothing is written.`,
    query: { aggregateType, aggregateId, until: state.travel, skip, compareTo: { until: state.travel } },
  };
}
