/**
 * The panel's state, as one immutable value, and the actions that move it.
 *
 * This is the panel's model in the Redux DevTools manner: `reduce(state,
 * action)` (reduce.ts) is the only way the state changes, and views render
 * from it. Nothing here touches the DOM or a source: the panel's runtime
 * (ui/panel.ts) reads the source, dispatches what came back, and runs the
 * effects a new state asks for (a filter pass, an inspect, a travel).
 *
 * The log can hold 100,000 entries, so the arrays in it are replaced, never
 * copied item by item more than once per page, and nothing keeps a set of
 * every id (copying one per page cost most of a second).
 */
import type { DevtoolsEntry, EventOutcome, LogCursor, SourceInfo, SyncStatus } from '../types.ts';

/** A detail tab: 'event', 'whatif', 'sync', or one a view registers. */
export type TabId = string;

export interface Filter {
  /** An aggregate id, exact when one in the log has it, else a part of one (case-insensitive). */
  aggregate: string;
  /** An event type, exact; '' for all. */
  type: string;
  /** Free text in ids, data and meta (case-insensitive). */
  text: string;
  /** occurredAt from / to, in ms; `to` takes its whole second. */
  from: number | undefined;
  to: number | undefined;
}

export const NO_FILTER: Filter = { aggregate: '', type: '', text: '', from: undefined, to: undefined };

/** The log as read so far: confirmed events by position, then pending ones. */
export interface LogState {
  entries: readonly DevtoolsEntry[];
  /** Index of the first pending entry (= the number of confirmed ones). */
  pendingStart: number;
  /** Where the next read of each area starts. */
  lastConfirmed: LogCursor | null;
  lastPending: LogCursor | null;
  loading: boolean;
  error: string | null;
  /** Events the store said it holds when loading started (for the progress bar). */
  expected: number;
  /** Event types known or seen, in the order met. */
  eventTypes: readonly string[];
  /** The first aggregate ids met, for the filter's suggestions. */
  aggregateSample: readonly string[];
}

export interface FilterState {
  filter: Filter;
  /** The aggregate filter names an aggregate of the log: match it exactly. */
  exact: boolean;
  /** Indices into the log's entries that the filter lets through, in log order. */
  shown: readonly number[];
  /** Bumped when the whole log must be filtered again; a pass answers with its run. */
  run: number;
  /** A pass is under way. */
  running: boolean;
  /**
   * Where the pass under way (or the last one) starts: 0, the whole log; else
   * it filters just the entries appended from there on, and keeps the listed
   * ones before them.
   */
  from: number;
}

export interface Selection {
  /** Index into `shown`, or -1. */
  index: number;
  /** The selected event's id; kept while it is filtered out, so it comes back. */
  id: string | null;
  /** Bumped when the detail should be shown again for the same event (Enter). */
  rev: number;
}

export interface SkipInfo {
  aggregateType: string;
  aggregateId: string;
  type: string;
  seq: number;
}

export interface SeenOutcome {
  at: number;
  outcome: EventOutcome;
}

export type NoticeKind = 'info' | 'error' | 'progress';

export interface Notice {
  message: string;
  kind: NoticeKind;
}

export interface ScratchInfo {
  /** The scratch store's database name. */
  name: string;
  /** The file it was imported from. */
  file: string;
}

export interface PanelState {
  /** Bumped each time the panel attaches to a source: answers for an older one are dropped. */
  generation: number;
  /** Set while the panel shows a scratch store opened by an import. */
  scratch: ScratchInfo | null;
  info: SourceInfo | null;
  log: LogState;
  filter: FilterState;
  selection: Selection;
  /** The store's time-travel position (null: live, at the head). */
  travel: LogCursor | null;
  /**
   * The position the panel itself last moved the live store to (null: it did
   * not, or it resumed it). Kept while a scratch store shows: unmount resumes
   * the live store's travel whatever source the panel shows then.
   */
  travelSetByPanel: LogCursor | null;
  /** Events left out in what-if, by id. */
  skips: ReadonlyMap<string, SkipInfo>;
  /** Events whose outcome was `rebased` this session. */
  rebased: ReadonlySet<string>;
  /** Outcomes seen this session, newest first. */
  outcomes: readonly SeenOutcome[];
  /** Bumped when a rejected outcome arrives (the rejected list is read again). */
  rejections: number;
  /** Bumped when a reaction's bookkeeping changes (the Reactions tab reads it again). */
  reactions: number;
  sync: SyncStatus | null;
  tab: TabId;
  /** The status line: what the last export or import did. */
  notice: Notice | null;
}

/** What happens to the panel, as data. */
export type PanelAction =
  /** The panel starts over on a source (the live store, or a scratch store after an import). */
  | { type: 'attached'; scratch: ScratchInfo | null }
  | { type: 'loadStarted'; generation: number; info: SourceInfo; position: LogCursor | null; sync: SyncStatus | null }
  | { type: 'pageRead'; generation: number; area: 'confirmed' | 'pending'; entries: readonly DevtoolsEntry[] }
  /** Pending events moved (confirmed, rebased, rejected): the pending area as read again. */
  | { type: 'pendingReloaded'; generation: number; entries: readonly DevtoolsEntry[] }
  | { type: 'loadFinished'; generation: number }
  | { type: 'loadFailed'; generation: number; message: string }
  | { type: 'filterChanged'; filter: Filter }
  /** A pass over the whole log (see `filter.run`) finished. */
  | { type: 'filterPassed'; run: number; shown: readonly number[] }
  /** Select the `index`-th listed event (clamped); `again` shows its detail again. */
  | { type: 'selected'; index: number; again?: boolean }
  /** The store travelled (`byPanel`: the panel moved it), or resumed (null). */
  | { type: 'travelled'; position: LogCursor | null; byPanel: boolean }
  | { type: 'skipSet'; index: number; skip: boolean }
  | { type: 'skipRemoved'; id: string }
  | { type: 'skipsCleared' }
  | { type: 'tabChosen'; tab: TabId }
  | { type: 'syncChanged'; status: SyncStatus }
  | { type: 'outcomesSeen'; at: number; outcomes: readonly EventOutcome[] }
  /** A reaction delivered, failed, parked, or a parked event was retried or skipped. */
  | { type: 'reactionsChanged' }
  | { type: 'noticed'; notice: Notice };

export const DEFAULT_TAB: TabId = 'event';

export function emptyLog(): LogState {
  return {
    entries: [],
    pendingStart: 0,
    lastConfirmed: null,
    lastPending: null,
    loading: true,
    error: null,
    expected: 0,
    eventTypes: [],
    aggregateSample: [],
  };
}

export function initialState(): PanelState {
  return {
    generation: 0,
    scratch: null,
    info: null,
    log: emptyLog(),
    filter: { filter: NO_FILTER, exact: false, shown: [], run: 0, running: false, from: 0 },
    selection: { index: -1, id: null, rev: 0 },
    travel: null,
    travelSetByPanel: null,
    skips: new Map(),
    rebased: new Set(),
    outcomes: [],
    rejections: 0,
    reactions: 0,
    sync: null,
    tab: DEFAULT_TAB,
    notice: null,
  };
}
