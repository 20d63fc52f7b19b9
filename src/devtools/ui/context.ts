/**
 * What every part of the panel's UI is handed: the state and its dispatch,
 * the source it shows, the activity counter, and the commands that act
 * (select, travel, skip, filter, export, import). Views render from the
 * state in `update(state, prev)` and act through the commands.
 */
import type { Filter, PanelAction, PanelState, TabId } from '../model/state.ts';
import type { Step } from '../model/travel.ts';
import type { DevtoolsSource } from '../types.ts';

export interface PanelCommands {
  /** Selects the `index`-th listed event; `scroll` (default true) brings it into view, `again` shows its detail again. */
  select(index: number, options?: { scroll?: boolean; again?: boolean }): void;
  /** Time-travels the store to the `index`-th listed event. */
  travelTo(index: number): void;
  step(step: Step): void;
  /** Back to the head. */
  resume(): void;
  setSkip(index: number, skip: boolean): void;
  chooseTab(tab: TabId): void;
  setFilter(filter: Filter): void;
  exportLog(): void;
  importFile(file: File): void;
  backToLive(): void;
}

/** The panel's state, source and activity, as its runtime provides them. */
export interface PanelCore {
  /** A prefix for element ids unique to this panel. */
  readonly uid: string;
  state(): PanelState;
  dispatch(action: PanelAction): void;
  /** The source the panel shows now (a scratch store's after an import). */
  source(): DevtoolsSource;
  /** Counts async work until it settles, so idle() can wait for it. */
  track<T>(work: Promise<T>): Promise<T>;
  /** True once the panel is unmounted: loops stop. */
  unmounted(): boolean;
}

export interface PanelContext extends PanelCore {
  readonly commands: PanelCommands;
}

/** A part of the panel that renders from the state. */
export interface View {
  /** Called after every change of state; `prev` is the state before it, null on the first render. */
  update(state: PanelState, prev: PanelState | null): void;
  /** Releases what the view holds (observers, encoders). */
  dispose?(): void;
}

/** Whether any of the parts `select` picks differs from the state before (always, on the first render). */
export function changed(state: PanelState, prev: PanelState | null, select: (state: PanelState) => readonly unknown[]): boolean {
  if (prev === null) return true;
  const now = select(state);
  const before = select(prev);
  return now.some((part, i) => part !== before[i]);
}
