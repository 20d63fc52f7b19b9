/** The selected event: which listed row it is, and where the keys move it. */
import type { DevtoolsEntry } from '../types.ts';
import type { PanelState, Selection } from './state.ts';

/** The listed entry at `index` of the filtered view. */
export function shownEntry(state: PanelState, index: number): DevtoolsEntry | undefined {
  const at = state.filter.shown[index];
  return at === undefined ? undefined : state.log.entries[at];
}

export function selectedEntry(state: PanelState): DevtoolsEntry | undefined {
  const { index, id } = state.selection;
  if (index < 0) return undefined;
  const entry = shownEntry(state, index);
  return entry && entry.event.id === id ? entry : undefined;
}

/** Selects the `index`-th listed event, clamped to the list; the same state when nothing changes. */
export function select(state: PanelState, index: number, again = false): PanelState {
  const count = state.filter.shown.length;
  if (count === 0) return state;
  const clamped = Math.max(0, Math.min(count - 1, index));
  const id = shownEntry(state, clamped)!.event.id;
  const { selection } = state;
  if (!again && selection.index === clamped && selection.id === id) return state;
  return { ...state, selection: { index: clamped, id, rev: again ? selection.rev + 1 : selection.rev } };
}

/** After the list changed: the selection stays on the same event if it is still listed. */
export function keepSelection(state: PanelState): PanelState {
  const { selection } = state;
  if (selection.id === null) return state;
  if (selection.index >= 0 && shownEntry(state, selection.index)?.event.id === selection.id) return state;
  let index = -1;
  const { shown } = state.filter;
  for (let k = shown.length - 1; k >= 0; k--) {
    if (state.log.entries[shown[k]!]!.event.id === selection.id) {
      index = k;
      break;
    }
  }
  if (index === selection.index) return state;
  const next: Selection = { ...selection, index };
  return { ...state, selection: next };
}

/** Where a key moves the selection in a list of `count` rows, `page` to a screen; undefined: not a move. */
export function keyTarget(key: string, at: number, count: number, page: number): number | undefined {
  switch (key) {
    case 'ArrowDown':
      return at < 0 ? 0 : at + 1;
    case 'ArrowUp':
      return at < 0 ? 0 : at - 1;
    case 'PageDown':
      return at + page;
    case 'PageUp':
      return at - page;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    case 'Enter':
      return at < 0 ? 0 : at;
    default:
      return undefined;
  }
}
