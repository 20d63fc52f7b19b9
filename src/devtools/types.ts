import type { LogEvent } from '../core/index.ts';
import type {
  EventOutcome,
  ImportResult,
  LatencyMetrics,
  LogCursor,
  LogFilter,
  ReactionStatus,
  RejectedRecord,
  RunMetrics,
  StoreMetrics,
  SyncMetrics,
  SyncStatus,
} from '../client/index.ts';
import type { Encoded } from './encode.ts';
import type { DiffResult } from './diff.ts';

export type { LogCursor, LogFilter, SyncStatus, EventOutcome, RejectedRecord, ImportResult, Encoded, DiffResult };
export type { StoreMetrics, LatencyMetrics, RunMetrics, SyncMetrics, ReactionStatus };

/** One event of the log with its place in it, as the panel lists it. */
export interface DevtoolsEntry {
  cursor: LogCursor;
  event: LogEvent;
}

/** What the panel needs to know about the store behind a source. */
export interface SourceInfo {
  name: string;
  clientId: string;
  inWorker: boolean;
  pendingEvents: number;
  confirmedEvents: number;
  /** The first confirmed position stored: compaction dropped the ones before it (absent or 1: none). */
  historyStartsAt?: number;
  /** Aggregates whose states the source can compute (their definitions were passed in). */
  aggregates: { type: string; events: string[] }[];
  /** Event types the source knows (aggregates' events and extra event definitions). */
  eventTypes: string[];
  /** True for a scratch store opened by an import. */
  scratch: boolean;
}

/** One page of one area of the log, after a cursor. */
export interface PageRequest {
  status: 'confirmed' | 'pending';
  after: LogCursor | null;
}

export interface PageResult {
  entries: DevtoolsEntry[];
  /** No more events in this area after the last entry (for now). */
  end: boolean;
}

/** Which states of one aggregate to compute: `until`/`skip` as in store.inspect. */
export interface StateQuery {
  until?: LogCursor | null;
  skip?: string[];
}

export interface InspectRequest extends StateQuery {
  aggregateType: string;
  aggregateId: string;
  /** A second state to compute and diff against (the result's `base`). */
  compareTo?: StateQuery;
}

/** A state, encoded for display: safe to send anywhere, truncated where large, expandable by ref. */
export interface StateView {
  version: number;
  state: Encoded;
}

export interface InspectResult {
  state: StateView;
  base?: StateView;
  /** From base to state, when compareTo was given. */
  diff?: DiffResult;
}

/** An event a reaction parked (store.reactions.parked()), as the panel lists it. */
export interface ParkedView {
  reaction: string;
  eventId: string;
  type: string;
  aggregateId: string;
  seq: number;
  attempts: number;
  lastError: string;
  parkedAt: number;
  /** A retry was asked for and waits for the tab running reactions. */
  retryRequested: boolean;
}

/** The store's reactions: each one's status, and every parked event. */
export interface ReactionsView {
  statuses: ReactionStatus[];
  parked: ParkedView[];
}

/** What a source tells the panel as it happens. */
export type SourceEvent =
  /** New events were appended (in this tab or another): read the tail. */
  | { kind: 'appended' }
  /** Events were confirmed or re-sequenced: pending events moved. */
  | { kind: 'reordered' }
  | { kind: 'travel'; position: LogCursor | null }
  | { kind: 'sync'; status: SyncStatus }
  | { kind: 'outcomes'; outcomes: EventOutcome[] }
  /** A reaction's bookkeeping changed (delivered, failed, parked, retried, skipped). */
  | { kind: 'reactions' };

/**
 * Everything the panel reads or does, whether the store lives in this page
 * (createStoreSource) or behind the extension bridge (createBridgeSource).
 * Every value that crosses it is structured-clone and JSON safe.
 */
export interface DevtoolsSource {
  readonly kind: 'chronicle-devtools-source';
  info(): Promise<SourceInfo>;
  page(request: PageRequest): Promise<PageResult>;
  inspect(request: InspectRequest): Promise<InspectResult>;
  /** More of a value truncated in an earlier result: a container's items from `offset`, or a whole long string. */
  expand(ref: string, offset?: number): Promise<Encoded>;
  /** Moves the store's time travel to an event, or back to the head (null). */
  travel(position: LogCursor | null): Promise<void>;
  position(): Promise<LogCursor | null>;
  /** store.exportLog(filter), handed over in chunks of lines; resolves with the line count. */
  exportLog(filter: LogFilter, onLines: (lines: string[]) => void): Promise<number>;
  /** Imports NDJSON into a fresh scratch store and returns a source for it. */
  importLog(ndjson: string): Promise<{ source: DevtoolsSource; result: ImportResult; name: string }>;
  syncStatus(): Promise<SyncStatus>;
  rejected(): Promise<RejectedRecord[]>;
  /** store.metrics(): append and replay latencies, sync lag, pending count and age. */
  metrics(): Promise<StoreMetrics>;
  /** store.reactions.status() and .parked(). */
  reactions(): Promise<ReactionsView>;
  /** store.reactions.retry(): asks for another try of a parked event. */
  retryParked(reaction: string, eventId: string): Promise<void>;
  /** store.reactions.skip(): gives up on a parked event. */
  skipParked(reaction: string, eventId: string): Promise<void>;
  subscribe(listener: (event: SourceEvent) => void): () => void;
  /** Releases the source; a scratch source also closes its store and deletes its database. */
  dispose(): Promise<void>;
}

export function isDevtoolsSource(value: unknown): value is DevtoolsSource {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'chronicle-devtools-source';
}
