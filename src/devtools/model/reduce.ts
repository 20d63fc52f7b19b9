/**
 * The panel's transitions: `reduce(state, action)` returns the next state
 * (the same object when nothing changed). Pure: no DOM, no source, no clock
 * (times come in the actions).
 */
import { hasFilter, matcher, matchingFrom, namesAggregate } from './filter.ts';
import { sameCursor } from '../cursor.ts';
import { addPage, replacePending, withKnownTypes } from './log.ts';
import { keepSelection, select } from './selection.ts';
import { initialState, type FilterState, type PanelAction, type PanelState } from './state.ts';
import { seeOutcomes } from './sync.ts';
import { removeSkip, setSkip } from './whatif.ts';

/** Asks for a pass over the whole log (the runtime runs it and answers with `filterPassed`). */
function refilter(state: PanelState): PanelState {
  return { ...state, filter: { ...state.filter, run: state.filter.run + 1, running: true, from: 0 } };
}

/** New entries at the end: filter just them, unless a pass is under way (it reads up to the end). */
function filterAppended(state: PanelState, from: number): PanelState {
  const { filter } = state;
  if (filter.running) return state;
  // The free text is searched in each event's JSON: over a page of up to 100,000 events, some of them
  // large, that is seconds of work, too much for one dispatch. A sliced pass over just them does it.
  if (filter.filter.text !== '') return { ...state, filter: { ...filter, run: filter.run + 1, running: true, from } };
  const matched = matchingFrom(state.log.entries, from, matcher(filter.filter, filter.exact));
  if (matched.length === 0) return state;
  const shown = filter.shown.concat(matched);
  return keepSelection({ ...state, filter: { ...filter, shown } });
}

/**
 * Entries went in before others (a confirmed page before the pending events):
 * the listed ones after them move up by `count`, so the list stays true until
 * the pass over the whole log lists the new ones too.
 */
function shiftShown(shown: readonly number[], from: number, count: number): number[] {
  return shown.map((k) => (k < from ? k : k + count));
}

/** The pending entries were replaced: only the confirmed ones listed stay listed until the pass. */
function confirmedShown(shown: readonly number[], pendingStart: number): readonly number[] {
  let cut = shown.length;
  while (cut > 0 && shown[cut - 1]! >= pendingStart) cut--;
  return cut === shown.length ? shown : shown.slice(0, cut);
}

function pageRead(state: PanelState, { area, entries }: Extract<PanelAction, { type: 'pageRead' }>): PanelState {
  if (entries.length === 0) return state;
  const added = addPage(state.log, area, entries);
  const exact = state.filter.exact || namesAggregate(state.filter.filter, entries);
  if (added.atEnd) return filterAppended({ ...state, log: added.log, filter: { ...state.filter, exact } }, added.from);
  const shown = shiftShown(state.filter.shown, added.from, entries.length);
  return refilter({ ...state, log: added.log, filter: { ...state.filter, exact, shown } });
}

export function reduce(state: PanelState, action: PanelAction): PanelState {
  switch (action.type) {
    case 'attached': {
      // A new source: everything read from the old one goes; the filter and the tab stay, and so does
      // the travel the panel set on the live store (unmount resumes it, even from a scratch store).
      const fresh = initialState();
      const filter: FilterState = { ...fresh.filter, filter: state.filter.filter, run: state.filter.run + 1 };
      const { travelSetByPanel, tab, notice } = state;
      return { ...fresh, generation: state.generation + 1, scratch: action.scratch, filter, tab, notice, travelSetByPanel };
    }
    case 'loadStarted':
      if (action.generation !== state.generation) return state;
      return {
        ...state,
        info: action.info,
        travel: action.position,
        sync: action.sync,
        log: { ...withKnownTypes(state.log, action.info.eventTypes), expected: action.info.confirmedEvents + action.info.pendingEvents },
      };
    case 'pageRead':
      if (action.generation !== state.generation) return state;
      return pageRead(state, action);
    case 'pendingReloaded': {
      if (action.generation !== state.generation) return state;
      const exact = state.filter.exact || namesAggregate(state.filter.filter, action.entries);
      const shown = confirmedShown(state.filter.shown, state.log.pendingStart);
      return keepSelection(
        refilter({ ...state, log: replacePending(state.log, action.entries), filter: { ...state.filter, exact, shown } }),
      );
    }
    case 'loadFinished':
      if (action.generation !== state.generation) return state;
      return { ...state, log: { ...state.log, loading: false } };
    case 'loadFailed':
      if (action.generation !== state.generation) return state;
      return {
        ...state,
        log: { ...state.log, loading: false, error: action.message },
        notice: { message: `Could not read the log: ${action.message}`, kind: 'error' },
      };
    case 'filterChanged': {
      const exact = hasFilter(action.filter) && namesAggregate(action.filter, state.log.entries);
      return refilter({ ...state, filter: { ...state.filter, filter: action.filter, exact } });
    }
    case 'filterPassed':
      if (action.run !== state.filter.run || !state.filter.running) return state;
      return keepSelection({ ...state, filter: { ...state.filter, shown: action.shown, running: false } });
    case 'selected':
      return select(state, action.index, action.again);
    case 'travelled':
      if (!action.byPanel && sameCursor(action.position, state.travel)) return state;
      return {
        ...state,
        travel: action.position,
        // Only the live store's travel outlives the panel; a scratch store is deleted on unmount.
        travelSetByPanel: action.byPanel && !state.scratch ? action.position : state.travelSetByPanel,
      };
    case 'skipSet':
      return setSkip(state, action.index, action.skip);
    case 'skipRemoved':
      return removeSkip(state, action.id);
    case 'skipsCleared':
      return state.skips.size === 0 ? state : { ...state, skips: new Map() };
    case 'tabChosen':
      return action.tab === state.tab ? state : { ...state, tab: action.tab };
    case 'syncChanged':
      return { ...state, sync: action.status };
    case 'outcomesSeen':
      return seeOutcomes(state, action.at, action.outcomes);
    case 'reactionsChanged':
      return { ...state, reactions: state.reactions + 1 };
    case 'noticed':
      return { ...state, notice: action.notice };
  }
}
