/**
 * Time travel as the panel sees it: where the store's position falls in the
 * listed events, where the step buttons go, and what the timeline says.
 */
import { lastAtOrBefore, sameCursor } from '../cursor.ts';
import { formatCount } from '../format.ts';
import { shownEntry } from './selection.ts';
import type { PanelState } from './state.ts';

export type Step = 'first' | 'prev' | 'next' | 'last';

export interface TravelIndex {
  /** The last listed event at or before the position; -1 when none (or live). */
  index: number;
  /** The position is that event itself (not one filtered out after it). */
  exact: boolean;
}

export function travelIndex(state: PanelState): TravelIndex {
  const { travel } = state;
  if (!travel) return { index: -1, exact: false };
  const { shown } = state.filter;
  const { entries } = state.log;
  const index = lastAtOrBefore(shown.length, (k) => entries[shown[k]!]!.cursor, travel);
  const exact = index >= 0 && sameCursor(entries[shown[index]!]!.cursor, travel);
  return { index, exact };
}

/** The listed index a step button travels to, or undefined when it goes nowhere. */
export function stepTarget(state: PanelState, step: Step): number | undefined {
  const count = state.filter.shown.length;
  if (count === 0) return undefined;
  const { index, exact } = travelIndex(state);
  const traveling = state.travel !== null;
  let target: number;
  if (step === 'first') target = 0;
  else if (step === 'last') target = count - 1;
  else if (step === 'prev') target = traveling ? (exact ? index - 1 : index) : count - 2;
  else target = traveling ? index + 1 : count;
  return target >= 0 && target < count ? target : undefined;
}

/** The row to select when the store travelled (someone else moved it), or undefined. */
export function followTarget(state: PanelState): number | undefined {
  const { index } = travelIndex(state);
  if (index < 0 || shownEntry(state, index)!.event.id === state.selection.id) return undefined;
  return index;
}

export interface TimelineView {
  traveling: boolean;
  sliderMax: number;
  sliderValue: number;
  disabled: { slider: boolean; first: boolean; prev: boolean; next: boolean; last: boolean; resume: boolean };
  /** Where the store is, for the position output and the slider's aria-valuetext. */
  text: string;
  /** The time-travel banner, or null while live. */
  banner: string | null;
}

export function timelineView(state: PanelState): TimelineView {
  const count = state.filter.shown.length;
  const traveling = state.travel !== null;
  const { index, exact } = travelIndex(state);
  const { entries } = state.log;
  const total = formatCount(entries.length);
  let text: string;
  let banner: string | null = null;
  if (!state.travel) text = `Live · following the head (${total} events)`;
  else {
    const travel = state.travel;
    const at = lastAtOrBefore(entries.length, (k) => entries[k]!.cursor, travel);
    const entry = entries[at];
    let where: string;
    if (entry) {
      const logIndex = formatCount(at + 1);
      const what = `${entry.event.type} ${entry.event.aggregateId} #${entry.event.seq}`;
      text = `Event ${logIndex} of ${total} · ${what}`;
      where = `event ${logIndex} of ${total} (${what})`;
    } else {
      text = 'Before the first event';
      where = 'a place before the first event listed';
    }
    const who = state.scratch ? 'the scratch store shows' : "the app's live queries show";
    banner = `Time travel: ${who} the state as of ${where}. Appends are refused until you resume.`;
  }
  return {
    traveling,
    sliderMax: Math.max(1, count),
    sliderValue: traveling ? Math.max(1, index + 1) : Math.max(1, count),
    disabled: {
      slider: count === 0,
      first: count === 0 || (traveling && exact && index === 0),
      prev: traveling ? index < 0 || (exact && index === 0) : count < 2,
      next: !traveling || index >= count - 1,
      last: count === 0 || (traveling && exact && index === count - 1),
      resume: !traveling,
    },
    text,
    banner,
  };
}
