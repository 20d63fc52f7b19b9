import type { AnyAggregateDefinition, StateOf } from '../core/aggregate.ts';
import type { AnyEventDefinition, RecordedEvent, StoredEvent, UnknownEvent } from '../core/event.ts';
import type { AnyProjectionDefinition, ProjectionStateOf } from '../core/projection.ts';
import type { AnyReactionDefinition } from '../core/reaction.ts';
import type { StoreClosedError } from '../core/errors.ts';
import type { MetricsHandle } from './metrics.ts';
import type { SyncHandle } from './sync-types.ts';
import type {
  AppendOptions,
  AppendResult,
  BatchEntry,
  ImportResult,
  InputOf,
  InspectOptions,
  LoadResult,
  LogEntry,
  LogFilter,
  ProjectionHandle,
  ReactionsHandle,
  ReadStreamOptions,
  CompactOptions,
  CompactionReport,
  ForgetResult,
  ForgetTarget,
  ReplayOptions,
  ReplayResult,
  StoreEventShape,
  StoreInfo,
  TimeTravel,
} from './types.ts';

/** The store's public API, typed by the app's event, aggregate and reaction definitions (the event types of all three). */

export type RecordedOf<S> = S extends { type: infer T extends string; data: infer D } ? RecordedEvent<T, D> : never;

/** Every event this store can read back: the app's typed events, or an UnknownEvent. */
export type StoreEvent<S> = RecordedOf<S> | UnknownEvent;

export interface Store<
  TEvents extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
  TAggregates extends readonly AnyAggregateDefinition[] = readonly AnyAggregateDefinition[],
  TReactions extends readonly AnyReactionDefinition[] = readonly [],
> {
  readonly name: string;
  /** Whether the engine runs in a Web Worker. */
  readonly inWorker: boolean;
  /** Appends events to one aggregate's stream, atomically. */
  append(
    aggregateId: string,
    events: InputOf<StoreEventShape<TEvents, TAggregates, TReactions>>[],
    options?: AppendOptions,
  ): Promise<AppendResult<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>>;
  /** Appends to several streams in one transaction: all of it or none. */
  appendBatch(
    entries: BatchEntry<StoreEventShape<TEvents, TAggregates, TReactions>>[],
  ): Promise<AppendResult<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>[]>;
  /** State from the newest valid snapshot plus the events after it. */
  load<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string): Promise<LoadResult<StateOf<A>>>;
  /**
   * Takes a snapshot now; returns the version it covers. A stream holding an
   * event this app version cannot read (a newer version of one of its types)
   * gets none past it, and a snapshot of a newer reducer version (a newer
   * build's tab) is not replaced: then the version of the snapshot this build
   * has and can use (0: none) comes back.
   */
  snapshot<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string): Promise<number>;
  /** One aggregate's events by seq, paged. */
  readStream(
    aggregateId: string,
    options?: ReadStreamOptions,
  ): AsyncIterable<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>;
  /** The log in log order, filtered, paged. */
  readLog(filter?: LogFilter): AsyncIterable<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>;
  /** Runs a replay job (full log, one aggregate, a time range, a set of types). */
  replay(options: ReplayOptions<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>): Promise<ReplayResult>;
  /** A projection's live state (kept live if listed in openStore's projections). */
  projection<P extends AnyProjectionDefinition>(definition: P): ProjectionHandle<ProjectionStateOf<P>>;
  /** Calls back with the aggregate's state now and after each change, in this tab or another. */
  subscribe<A extends AnyAggregateDefinition>(
    aggregate: A,
    aggregateId: string,
    listener: (result: LoadResult<StateOf<A>>) => void,
    onError?: (error: unknown) => void,
  ): () => void;
  /** Calls back with new events as they are appended, in this tab or another. */
  subscribeLog(listener: (events: StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>[]) => void): () => void;
  /** The state of an aggregate up to a place in the log and/or without some events; nothing is stored. */
  inspect<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string, options: InspectOptions): Promise<LoadResult<StateOf<A>>>;
  /** A projection's state folded up to a place in the log (or to the head); nothing is stored. */
  inspectProjection<P extends AnyProjectionDefinition>(definition: P, options: InspectOptions): Promise<ProjectionStateOf<P>>;
  /**
   * The log in batches of entries with their places in the log (devtools); smaller batches keep a UI thread
   * responsive. An event whose upcast fails fails the scan (UPCAST), unless `upcastFailures: 'unreadable'`:
   * then it comes as unreadable (`known: false`, its data as stored, the reason in `upcastError`), as the
   * devtools panel lists it.
   */
  scan(
    filter?: LogFilter,
    options?: { batchEvents?: number; upcastFailures?: 'throw' | 'unreadable' },
  ): AsyncIterable<LogEntry<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>[]>;
  /** The log (or a filtered part) as NDJSON lines, one stored event per line. */
  exportLog(filter?: LogFilter): AsyncIterable<string>;
  /**
   * Imports NDJSON written by exportLog (e.g. into a scratch store): confirmed events keep their positions,
   * pending ones their ids, seqs and client ids. Another device's pending events stay that device's: read
   * and folded here as pending, they reach the server only from that device (this store never pushes,
   * renumbers, rebases or rejects them, nor counts them in `sync.status().pending` or deleteStore's
   * unfinished work). They leave the pending area when a pull brings them confirmed, or another event at
   * their seq, or this client's own events stacked on them are rebased (their device pushes them rebased).
   */
  importLog(ndjson: string | Iterable<string> | AsyncIterable<string>): Promise<ImportResult>;
  /** Show the state as of a past event, read-only, until resume(). */
  readonly timeTravel: TimeTravel;
  /** Stores events already confirmed by a server (sync pull, import), in position order. */
  importConfirmed(events: StoredEvent[] | string): Promise<{ stored: number; head: number }>;
  /** Where local history starts (historyStartsAt), counts, and where the engine runs. */
  info(): Promise<StoreInfo>;
  /**
   * Drops confirmed history past the retention policy now, a few pages per
   * transaction; resolves with what was dropped and what held it back.
   */
  compact(options?: CompactOptions): Promise<CompactionReport>;
  /**
   * Drops the stored checkpoint of a projection, named replay job or reaction
   * this app no longer uses, so that it holds compaction back no more
   * (InUseError if this store uses it, or another tab runs the reaction).
   */
  forget(target: ForgetTarget): Promise<ForgetResult>;
  /** The reactions given in openStore's `reactions` option: status, parked events, retry and skip. */
  readonly reactions: ReactionsHandle<StoreEvent<StoreEventShape<TEvents, TAggregates, TReactions>>>;
  /** Sync with the server given in openStore's `sync` option (status is 'disabled' without one). */
  readonly sync: SyncHandle;
  /** Append and replay latencies over a recent window, sync lag, pending count and age (see the README). */
  readonly metrics: MetricsHandle;
  /** Asks the browser not to evict this origin's storage; resolves with whether it agreed. */
  requestPersistence(): Promise<boolean>;
  /**
   * Settles if the store stops without close(): its engine's worker ended (the
   * browser ended it, out of memory say, or it was terminated: `reason:
   * 'engine-stopped'`), or its database was deleted under it (`deleteStore`
   * in this or another tab, or the browser cleared the site's data: `reason:
   * 'deleted'`). Every call then rejects with the same StoreClosedError; show
   * the user a way to open the store again (or, once deleted, to sign in
   * afresh). Never settles otherwise.
   */
  readonly stopped: Promise<StoreClosedError>;
  close(): Promise<void>;
}
