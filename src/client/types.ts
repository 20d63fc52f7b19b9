import type { AnyAggregateDefinition, EventsOf, StateOf } from '../core/aggregate.ts';
import type { ExpectedVersion } from '../core/errors.ts';
import type { AnyEventDefinition, EventInput, EventShape, LogEvent } from '../core/event.ts';
import type { AnyProjectionDefinition } from '../core/projection.ts';
import type { AnyReactionDefinition, HandlerResult } from '../core/reaction.ts';
import type { LogCursor } from '../core/cursor.ts';
import type { RetentionOptions } from '../core/compaction.ts';
import type { StoreStats } from '../../worker/contract.ts';
import type { WorkerOption } from './connection.ts';
import type { SyncOptions } from './sync-types.ts';

export type { LogCursor, RetentionOptions };
export type { CompactOptions, CompactionReport } from './compaction.ts';
export type { ForgetResult, ForgetTarget } from './forget.ts';
export type { LatencyMetrics, MetricsHandle, MetricsSubscribeOptions, RunMetrics, StoreMetrics, SyncMetrics } from './metrics.ts';

export interface StoreOptions<
  TEvents extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
  TAggregates extends readonly AnyAggregateDefinition[] = readonly AnyAggregateDefinition[],
  TReactions extends readonly AnyReactionDefinition[] = readonly AnyReactionDefinition[],
> {
  /** The IndexedDB database name; one store per name. */
  name: string;
  /**
   * Event types this app writes and reads (an aggregate's and a reaction's events are added automatically, and
   * so are the types a listed projection handles that nothing else defines; those are read, not typed for append).
   */
  events?: TEvents;
  aggregates?: TAggregates;
  /** Projections kept live while the store is open. Their event types are read as the store's (see `events`). */
  projections?: readonly AnyProjectionDefinition[];
  /**
   * Reactions (side effects) this store runs, in one tab at a time: see defineReaction. Their event
   * types are the store's too, like an aggregate's: appended and read typed, without listing them in `events`.
   */
  reactions?: TReactions;
  /** Run the engine in a Web Worker (default 'auto': where one exists) or in-process (false). */
  worker?: WorkerOption;
  /** Largest stored event, in bytes of JSON; default 256 KiB. */
  maxEventBytes?: number;
  /**
   * When an append's promise resolves. 'relaxed' (default): once the browser
   * has committed it, with its default durability (handed to the operating
   * system: a crash of the tab or browser keeps it, a power cut may not).
   * 'strict': once it is flushed to disk. Whatever this says, events are
   * flushed before a push or a reaction's handler sees them; see the README,
   * "Durability".
   */
  durability?: 'relaxed' | 'strict';
  /** Sync with a Chronicle server: `{ url, log?, token? | getToken? }`. */
  sync?: SyncOptions;
  /**
   * Drop confirmed history from this device past these limits (age, count,
   * bytes), in the background and with store.compact(). Pending events are
   * never dropped; see the README, "Compaction / retention".
   */
  retention?: RetentionOptions;
}

type AggregateEventShapes<TAggregates extends readonly AnyAggregateDefinition[]> = TAggregates[number] extends infer A
  ? A extends { events: infer D extends readonly AnyEventDefinition[] }
    ? EventShape<D>
    : never
  : never;

/**
 * The event shapes of each reaction, as openStore registers them. A reaction typed only as
 * AnyReactionDefinition (a list built elsewhere, typed loosely) adds none: its types are not known here,
 * and `{ type: string }` would let the store accept any event.
 */
type ReactionEventShapes<TReactions extends readonly AnyReactionDefinition[]> = TReactions[number] extends infer R
  ? R extends { events: infer D extends readonly AnyEventDefinition[] }
    ? string extends EventShape<D>['type']
      ? never
      : EventShape<D>
    : never
  : never;

/** Every `{ type, data }` this store accepts: its events', its aggregates' and its reactions'. */
export type StoreEventShape<
  TEvents extends readonly AnyEventDefinition[],
  TAggregates extends readonly AnyAggregateDefinition[],
  TReactions extends readonly AnyReactionDefinition[] = readonly [],
> = EventShape<TEvents> | AggregateEventShapes<TAggregates> | ReactionEventShapes<TReactions>;

/**
 * What an append takes for a store's event shape: its schema's input (a field
 * with a default may be left out); for a plain `{ type, data }` shape, its data.
 */
export type InputOf<S> = S extends { type: infer T extends string; input: infer I }
  ? EventInput<T, I>
  : S extends { type: infer T extends string; data: infer D }
    ? EventInput<T, D>
    : never;

export interface AppendOptions {
  /** Optimistic concurrency: the version the stream must be at, 'no-stream', or 'any' (default). */
  expectedVersion?: ExpectedVersion;
  /** The aggregate the stream belongs to; resolved from the event types when there is only one. */
  aggregate?: AnyAggregateDefinition;
  aggregateType?: string;
}

export interface AppendResult<E extends LogEvent = LogEvent> {
  /** The events as stored, in the order given (duplicates report the stored copy). */
  events: E[];
  /** The stream's version after the append; pass it as expectedVersion next time. */
  nextExpectedVersion: number;
  createdNewStream: boolean;
  /** Ids already stored: acknowledged, not stored again. */
  duplicates: string[];
}

export interface BatchEntry<S> {
  aggregateId: string;
  events: InputOf<S>[];
  options?: AppendOptions;
}

export interface LoadResult<TState> {
  state: TState;
  /** The stream version the state includes (0 for a stream with no events). */
  version: number;
  /** The version of the snapshot the load started from, or 0. */
  snapshotVersion: number;
  /** Events read on top of the snapshot, those the reducers skipped (unknownEvents) included. */
  eventsApplied: number;
  /**
   * Events this app version cannot read (a type it does not define, or a
   * newer version of one of its types): kept in the log, skipped by the reducers.
   */
  unknownEvents: number;
}

export interface ReadStreamOptions {
  fromSeq?: number;
  toSeq?: number;
  backwards?: boolean;
}

export interface LogFilter {
  /** Only these aggregates. */
  aggregateIds?: readonly string[] | undefined;
  /** Only these event types. */
  types?: readonly string[] | undefined;
  /** Only events with meta.occurredAt in [fromTime, toTime] (epoch ms). */
  fromTime?: number | undefined;
  toTime?: number | undefined;
  /** Only confirmed events with position in [fromPosition, toPosition]. */
  fromPosition?: number | undefined;
  toPosition?: number | undefined;
  /**
   * Only events after this place in the log (a `scan` entry's cursor, a
   * projection's or a replay context's). A pending event's place stays its
   * own while the sync confirms or a rebase drops other events of its page.
   * Events the sync confirms move into the confirmed area, before every
   * pending place: a reader resumed after a pending place does not meet
   * again those it read while pending, nor those after the place that were
   * confirmed meanwhile (a replay job, which keeps the pending events it
   * handled by id, does).
   */
  after?: LogCursor | null | undefined;
  /** Only confirmed events ('confirmed') or only pending ones ('pending'). */
  status?: 'confirmed' | 'pending' | undefined;
}

export interface ReplayProgress {
  /** Events handed to the handler so far (including earlier runs of a resumed job). */
  processed: number;
  /** Events looked at so far, matching or not. */
  scanned: number;
  /** Events to look at in all (for a filtered job, the log size; grows if events arrive meanwhile). */
  total: number;
}

export interface ReplayContext {
  readonly isReplay: true;
  readonly cursor: LogCursor;
  /**
   * True when the handler may have seen this event before: a named job resumed
   * after a crash delivers again the (at most `checkpointEvery`) events after
   * its last checkpoint, flagged. After a clean stop (close, abort, a handler
   * error) nothing is delivered twice.
   */
  readonly redelivery: boolean;
}

export interface ReplayOptions<E extends LogEvent = LogEvent> {
  /** A named job checkpoints its progress and resumes where it stopped. */
  name?: string;
  /** What to replay; no filter = the full log. One aggregate, a time range or a set of types are the usual shapes. */
  filter?: { aggregateId?: string; types?: readonly string[]; fromTime?: number; toTime?: number };
  /**
   * Returns nothing or a promise (any thenable), awaited before the next event is handed over; its value is
   * ignored. Other values are refused by the type: an array of promises would not be waited for.
   */
  handler(event: E, context: ReplayContext): HandlerResult;
  onProgress?(progress: ReplayProgress): void;
  signal?: AbortSignal;
  /** Start over even if a checkpoint exists. */
  restart?: boolean;
  /** A named job saves its checkpoint after this many handled events (default 1,000): the most a crash can deliver again. */
  checkpointEvery?: number;
}

export interface ReplayResult extends ReplayProgress {
  /** True when a named job continued from a checkpoint. */
  resumed: boolean;
  /** The first confirmed position stored when the job ran: a replay of the whole log began there (1: nothing was compacted). */
  historyStartsAt: number;
}

export interface ProjectionSnapshot<TState> {
  state: TState;
  /** The last event applied, or null. */
  cursor: LogCursor | null;
  applied: number;
}

export interface ProjectionHandle<TState> {
  /** Catches up with the log, then returns the state. */
  get(): Promise<ProjectionSnapshot<TState>>;
  /**
   * Calls back with the state now and after every change; returns unsubscribe.
   * `onError` gets what a delivery failed with (a handler that threw, a fold
   * over compacted history, a closed store); the next change tries again.
   */
  subscribe(listener: (snapshot: ProjectionSnapshot<TState>) => void, onError?: (error: unknown) => void): () => void;
  /**
   * Drops the stored state and rebuilds from the whole log (handlers see isReplay: true).
   * `onProgress` is called once per 1,000 events looked at and at the end, as a replay
   * job's is. Until it ends, this tab's `get()` calls and subscribers wait for it, then
   * get the rebuilt state: never an emptied or half-folded one.
   */
  rebuild(options?: { onProgress?(progress: ReplayProgress): void; signal?: AbortSignal }): Promise<ProjectionSnapshot<TState>>;
}

/** What `store.info()` says: the engine's counts, and where the engine runs. */
export interface StoreInfo extends StoreStats {
  inWorker: boolean;
}

export type { StateOf, EventsOf };

/** An event with its place in the log and its stored form, as devtools and exports see it. */
export interface LogEntry<E = import('../core/event.ts').LogEvent> {
  event: E;
  cursor: LogCursor;
  stored: import('../core/event.ts').StoredEvent;
}

export interface InspectOptions {
  /** Fold only events at or before this place in the log. */
  until?: LogCursor | null;
  /** Leave these event ids out (what-if). */
  skip?: readonly string[];
}

export interface TimeTravel {
  /** Live queries (load, subscribe, projections) show the state as of this event; appends are refused. */
  to(cursor: LogCursor): void;
  /** Back to the head: live queries follow the log again. */
  resume(): void;
  /** Where the store is traveling, or null at the head. */
  position(): LogCursor | null;
  subscribe(listener: (position: LogCursor | null) => void): () => void;
}

export interface ImportResult {
  confirmed: number;
  pending: number;
}

/** A reaction's state as stored: where it stands, what is in flight, how much is parked. */
export interface ReactionStatus {
  name: string;
  on: 'local' | 'confirmed';
  /** True in the one tab that runs the store's reactions (it holds the lock). */
  leader: boolean;
  /** Every event stored so far is done with: handled, parked, or not for this reaction. */
  caughtUp: boolean;
  /** The highest server position done with. */
  confirmedThrough: number;
  /** The event being delivered (or retried after a failure), if any. */
  inFlight: { eventId: string; attempts: number; lastError: string | null } | null;
  /** Events set aside after too many failures, waiting for retry or skip. */
  parked: number;
  updatedAt: number;
  /**
   * Set when this tab stopped running the reaction before an event of its
   * types that this app version cannot read (stored at a newer version of the
   * type, which a newer app version wrote, or one whose upcast fails). The
   * checkpoint stays before it, and this tab let the reaction's lock go: a tab
   * of a newer version takes over
   * from there (one waiting now, or the next to open). Until then the event and
   * those after it wait; nothing is skipped. Cleared when the store reopens.
   */
  unreadable: { eventId: string; type: string; storedVersion: number } | null;
}

/** An event a reaction failed on too often: set aside until the app retries or skips it. */
export interface ParkedEvent<E = LogEvent> {
  reaction: string;
  eventId: string;
  event: E;
  attempts: number;
  lastError: string;
  parkedAt: number;
  /** A retry was asked for and waits for the tab running reactions. */
  retryRequested: boolean;
}

/** `store.reactions`: what devtools and apps need to watch and unblock reactions. */
export interface ReactionsHandle<E = LogEvent> {
  status(): Promise<ReactionStatus[]>;
  /** Parked events, of one reaction or of all. */
  parked(reaction?: string): Promise<ParkedEvent<E>[]>;
  /** Asks for another try of a parked event (run by the tab running reactions); resolves once asked. */
  retry(reaction: string, eventId: string): Promise<void>;
  /** Gives up on a parked event: recorded as skipped, never delivered again. */
  skip(reaction: string, eventId: string): Promise<void>;
  /** Calls back after any change of the reactions' bookkeeping, in any tab. */
  subscribe(listener: () => void): () => void;
}
