import type { AnyAggregateDefinition, StateOf } from '../core/aggregate.ts';
import { ConfigError, DuplicateInBatchError, TimeTravelError, ValidationError, type ExpectedVersion } from '../core/errors.ts';
import type { AnyEventDefinition, LogEvent, RecordedEvent, StoredEvent, UnknownEvent } from '../core/event.ts';
import type { AnyProjectionDefinition, ProjectionStateOf } from '../core/projection.ts';
import { createRegistry, type Registry } from '../core/registry.ts';
import { findIdProblem } from '../core/text-rules.ts';
import type { AppendOutcome, AppendRequest, Change, LogCursor } from '../../worker/types.ts';
import { loadAggregate, readStream } from './aggregate-loader.ts';
import { isAfter } from './log-events.ts';
import { decodePageJson } from '../../worker/page-codec.ts';
import { projectionRuntime } from '../core/projection.ts';
import { connect, type EngineConnection } from './connection.ts';
import { scanLog } from './log-scan.ts';
import { createProjectionRunner, type ProjectionRunner } from './projection-runner.ts';
import { runReplay } from './replay.ts';
import { checkSyncOptions, createDecider, type SyncHandle } from './sync.ts';
import type {
  AppendOptions,
  AppendResult,
  ImportResult,
  InspectOptions,
  LogEntry,
  TimeTravel,
  BatchEntry,
  InputOf,
  LoadResult,
  LogFilter,
  ProjectionHandle,
  ProjectionSnapshot,
  ReadStreamOptions,
  ReplayOptions,
  ReplayResult,
  StoreEventShape,
  StoreInfo,
  StoreOptions,
} from './types.ts';

type RecordedOf<S> = S extends { type: infer T extends string; data: infer D } ? RecordedEvent<T, D> : never;

/** Every event this store can read back: the app's typed events, or an UnknownEvent. */
export type StoreEvent<S> = RecordedOf<S> | UnknownEvent;

export interface Store<
  TEvents extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
  TAggregates extends readonly AnyAggregateDefinition[] = readonly AnyAggregateDefinition[],
> {
  readonly name: string;
  /** Whether the engine runs in a Web Worker. */
  readonly inWorker: boolean;
  /** Appends events to one aggregate's stream, atomically. */
  append(
    aggregateId: string,
    events: InputOf<StoreEventShape<TEvents, TAggregates>>[],
    options?: AppendOptions,
  ): Promise<AppendResult<StoreEvent<StoreEventShape<TEvents, TAggregates>>>>;
  /** Appends to several streams in one transaction: all of it or none. */
  appendBatch(
    entries: BatchEntry<StoreEventShape<TEvents, TAggregates>>[],
  ): Promise<AppendResult<StoreEvent<StoreEventShape<TEvents, TAggregates>>>[]>;
  /** State from the newest valid snapshot plus the events after it. */
  load<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string): Promise<LoadResult<StateOf<A>>>;
  /** Takes a snapshot now; returns the version it covers. */
  snapshot<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string): Promise<number>;
  /** One aggregate's events by seq, paged. */
  readStream(aggregateId: string, options?: ReadStreamOptions): AsyncIterable<StoreEvent<StoreEventShape<TEvents, TAggregates>>>;
  /** The log in log order, filtered, paged. */
  readLog(filter?: LogFilter): AsyncIterable<StoreEvent<StoreEventShape<TEvents, TAggregates>>>;
  /** Runs a replay job (full log, one aggregate, a time range, a set of types). */
  replay(options: ReplayOptions<StoreEvent<StoreEventShape<TEvents, TAggregates>>>): Promise<ReplayResult>;
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
  subscribeLog(listener: (events: StoreEvent<StoreEventShape<TEvents, TAggregates>>[]) => void): () => void;
  /** The state of an aggregate up to a place in the log and/or without some events; nothing is stored. */
  inspect<A extends AnyAggregateDefinition>(aggregate: A, aggregateId: string, options: InspectOptions): Promise<LoadResult<StateOf<A>>>;
  /** A projection's state folded up to a place in the log (or to the head); nothing is stored. */
  inspectProjection<P extends AnyProjectionDefinition>(definition: P, options: InspectOptions): Promise<ProjectionStateOf<P>>;
  /** The log in batches of entries with their places in the log (devtools); smaller batches keep a UI thread responsive. */
  scan(filter?: LogFilter, options?: { batchEvents?: number }): AsyncIterable<LogEntry<StoreEvent<StoreEventShape<TEvents, TAggregates>>>[]>;
  /** The log (or a filtered part) as NDJSON lines, one stored event per line. */
  exportLog(filter?: LogFilter): AsyncIterable<string>;
  /** Imports NDJSON written by exportLog (e.g. into a scratch store): confirmed events keep their positions, pending ones their ids and seqs. */
  importLog(ndjson: string | Iterable<string> | AsyncIterable<string>): Promise<ImportResult>;
  /** Show the state as of a past event, read-only, until resume(). */
  readonly timeTravel: TimeTravel;
  /** Stores events already confirmed by a server (sync pull, import), in position order. */
  importConfirmed(events: StoredEvent[] | string): Promise<{ stored: number; head: number }>;
  info(): Promise<StoreInfo>;
  /** Sync with the server given in openStore's `sync` option (status is 'disabled' without one). */
  readonly sync: SyncHandle;
  /** Asks the browser not to evict this origin's storage; resolves with whether it agreed. */
  requestPersistence(): Promise<boolean>;
  close(): Promise<void>;
}

function checkAggregateId(aggregateId: unknown): asserts aggregateId is string {
  // The same rule the server applies (core/text-rules.ts): an id it would refuse never enters the log.
  const problem = findIdProblem(aggregateId);
  if (problem !== undefined) throw new ValidationError('?', 'aggregateId', problem);
}

function checkExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'any' || expected === 'no-stream') return;
  if (typeof expected === 'number' && Number.isInteger(expected) && expected >= 0) return;
  throw new ValidationError('?', 'expectedVersion', `must be a non-negative integer, 'any' or 'no-stream' (got ${String(expected)})`);
}

function toResult(registry: Registry, outcome: AppendOutcome): AppendResult {
  const stored = decodePageJson(outcome.eventsJson);
  return {
    events: stored.map((e) => registry.decode(e)),
    nextExpectedVersion: outcome.nextExpectedVersion,
    createdNewStream: outcome.createdNewStream,
    duplicates: outcome.duplicates,
  };
}

export async function openStore<
  const TEvents extends readonly AnyEventDefinition[] = readonly [],
  const TAggregates extends readonly AnyAggregateDefinition[] = readonly [],
>(options: StoreOptions<TEvents, TAggregates>): Promise<Store<TEvents, TAggregates>> {
  if (!options || typeof options.name !== 'string' || options.name.length === 0) {
    throw new ConfigError('openStore needs a non-empty name');
  }
  if (options.maxEventBytes !== undefined && !(Number.isInteger(options.maxEventBytes) && options.maxEventBytes > 0)) {
    throw new ConfigError('maxEventBytes must be a positive integer');
  }
  const registry = createRegistry({
    events: options.events ?? [],
    aggregates: options.aggregates ?? [],
    maxEventBytes: options.maxEventBytes,
  });
  if (options.sync !== undefined) checkSyncOptions(options.sync);
  const connection: EngineConnection = await connect(options.name, options.worker ?? 'auto');
  const { clientId } = await connection.engine.stats();
  const store = createStore(options, registry, connection, clientId);
  if (options.sync) {
    const { getToken, webSocket, fetch, ...config } = options.sync;
    const decide = createDecider(connection, registry, options.aggregates ?? []);
    const callbacks = connection.callable({
      getToken: async () => (getToken ? await getToken() : config.token),
      decide,
    });
    if (connection.inWorker && (webSocket || fetch)) {
      throw new ConfigError('sync.webSocket and sync.fetch only apply in-process (worker: false)');
    }
    await connection.engine.startSync(config, callbacks, connection.inWorker ? {} : { webSocket, fetch });
  }
  return store as unknown as Store<TEvents, TAggregates>;
}

function createStore(options: StoreOptions, registry: Registry, connection: EngineConnection, clientId: string): Store {
  const { engine } = connection;
  const runners = new Map<string, ProjectionRunner>();
  const cleanups = new Set<() => void>();

  // Time travel is per tab: this store's live queries show the past; the log is untouched.
  let horizon: LogCursor | null = null;
  const travelListeners = new Set<(position: LogCursor | null) => void>();
  const setHorizon = (position: LogCursor | null) => {
    horizon = position;
    for (const listener of [...travelListeners]) listener(position);
  };
  const onTravel = (listener: (position: LogCursor | null) => void) => {
    travelListeners.add(listener);
    return () => void travelListeners.delete(listener);
  };
  const writable = () => {
    if (horizon) throw new TimeTravelError();
  };

  const projectionAt = async (definition: AnyProjectionDefinition, until: LogCursor | null, skip?: ReadonlySet<string>) => {
    const projection = projectionRuntime(definition);
    let state = projection.initialState();
    let cursor: LogCursor | null = null;
    let applied = 0;
    outer: for await (const batch of scanLog(connection, registry, {})) {
      for (const { event, cursor: at } of batch.matches) {
        if (until && isAfter(at, until)) break outer;
        cursor = at;
        if (skip?.has(event.id)) continue;
        const handler = event.known ? projection.handlers[event.type] : undefined;
        if (handler) {
          state = handler(state, event, { isReplay: true });
          applied++;
        }
      }
    }
    return { state, cursor, applied };
  };

  const buildRequest = (aggregateId: string, events: InputOf<unknown>[] | unknown, opts: AppendOptions = {}): AppendRequest => {
    checkAggregateId(aggregateId);
    const expectedVersion = opts.expectedVersion ?? 'any';
    checkExpectedVersion(expectedVersion);
    if (!Array.isArray(events)) throw new ValidationError('?', 'events', 'events must be an array');
    const inputs = events as Parameters<Registry['encode']>[0];
    let aggregateType: string;
    if (opts.aggregate) {
      aggregateType = opts.aggregate.type;
      const allowed = new Set(opts.aggregate.events.map((d) => d.type));
      inputs.forEach((input, index) => {
        if (!allowed.has(input?.type)) {
          throw new ValidationError(String(input?.type), 'type', `not an event of aggregate ${aggregateType}`, index);
        }
      });
    } else {
      aggregateType = registry.resolveAggregateType(inputs, opts.aggregateType);
    }
    return { aggregateId, aggregateType, expectedVersion, events: registry.encode(inputs) };
  };

  const runnerFor = (definition: AnyProjectionDefinition): ProjectionRunner => {
    let runner = runners.get(definition.name);
    if (!runner) {
      runner = createProjectionRunner(connection, registry, definition, clientId);
      runners.set(definition.name, runner);
    }
    return runner;
  };

  /** Calls `onChange` after every commit; the returned function stops it. */
  const watch = (onChange: (change: Change) => void): (() => void) => {
    let stop: (() => void) | undefined;
    let stopped = false;
    void connection.subscribe(onChange).then((unsubscribe) => {
      if (stopped) unsubscribe();
      else stop = unsubscribe;
    });
    const cancel = () => {
      stopped = true;
      stop?.();
      cleanups.delete(cancel);
    };
    cleanups.add(cancel);
    return cancel;
  };

  // Declared projections follow the log for as long as the store is open.
  for (const definition of options.projections ?? []) {
    const runner = runnerFor(definition);
    void runner.catchUp().catch(() => undefined);
    watch((change) => {
      if (change.kind === 'appended' || change.kind === 'confirmed') void runner.catchUp().catch(() => undefined);
    });
  }

  const store: Store = {
    name: options.name,
    inWorker: connection.inWorker,
    async append(aggregateId, events, opts) {
      writable();
      const request = buildRequest(aggregateId, events, opts);
      return toResult(registry, await engine.append(request)) as AppendResult<StoreEvent<unknown>>;
    },
    async appendBatch(entries) {
      writable();
      if (!Array.isArray(entries)) throw new ValidationError('?', 'entries', 'appendBatch expects an array');
      const requests = entries.map((e) => buildRequest(e.aggregateId, e.events, e.options));
      // One call, one event per id: the same id in two entries is a mistake, not a retry.
      const ids = new Set<string>();
      for (const request of requests) {
        for (const event of request.events) {
          if (ids.has(event.id)) throw new DuplicateInBatchError(event.id);
          ids.add(event.id);
        }
      }
      const outcomes = await engine.appendBatch(requests);
      return outcomes.map((o) => toResult(registry, o)) as AppendResult<StoreEvent<unknown>>[];
    },
    async load(aggregate, aggregateId) {
      checkAggregateId(aggregateId);
      const options = horizon ? { until: horizon } : {};
      return (await loadAggregate(connection, registry, aggregate, aggregateId, options)) as LoadResult<never>;
    },
    async inspect(aggregate, aggregateId, options) {
      checkAggregateId(aggregateId);
      const result = await loadAggregate(connection, registry, aggregate, aggregateId, {
        until: options.until ?? null,
        skip: new Set(options.skip ?? []),
      });
      return result as LoadResult<never>;
    },
    async inspectProjection(definition, options) {
      return (await projectionAt(definition, options.until ?? null, new Set(options.skip ?? []))).state as never;
    },
    async *scan(filter, scanOptions) {
      const batches = scanLog(connection, registry, filter, { keepStored: true, batchEvents: scanOptions?.batchEvents });
      for await (const batch of batches) yield batch.matches as LogEntry<StoreEvent<unknown>>[];
    },
    async *exportLog(filter) {
      for await (const batch of scanLog(connection, registry, filter, { keepStored: true })) {
        for (const { stored } of batch.matches) yield JSON.stringify(stored);
      }
    },
    async importLog(source) {
      writable();
      const lines: AsyncIterable<string> | Iterable<string> = typeof source === 'string' ? source.split('\n') : source;
      const result: ImportResult = { confirmed: 0, pending: 0 };
      let confirmed: StoredEvent[] = [];
      let pending: StoredEvent[] = [];
      const flush = async () => {
        if (confirmed.length) result.confirmed += (await engine.ingestConfirmed(confirmed)).stored;
        if (pending.length) result.pending += (await engine.importPending(pending)).stored;
        confirmed = [];
        pending = [];
      };
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        const text = line.trim();
        if (!text) continue;
        let event: StoredEvent;
        try {
          event = JSON.parse(text) as StoredEvent;
        } catch (error) {
          throw new ValidationError('?', `line ${lineNo}`, `not JSON: ${String(error)}`);
        }
        // Confirmed events come first in log order; keep each kind in order and write in chunks.
        if (event.position !== undefined) {
          if (pending.length) await flush();
          confirmed.push(event);
        } else pending.push(event);
        if (confirmed.length + pending.length >= 2000) await flush();
      }
      await flush();
      return result;
    },
    timeTravel: {
      to(cursor) {
        if (!cursor || typeof cursor.area !== 'number' || typeof cursor.page !== 'number' || typeof cursor.index !== 'number') {
          throw new ValidationError('?', 'cursor', 'time travel needs a log cursor { area, page, index }');
        }
        setHorizon({ area: cursor.area, page: cursor.page, index: cursor.index });
      },
      resume: () => setHorizon(null),
      position: () => horizon,
      subscribe: (listener) => onTravel(listener),
    },
    async snapshot(aggregate, aggregateId) {
      checkAggregateId(aggregateId);
      return (await loadAggregate(connection, registry, aggregate, aggregateId, { forceSnapshot: true })).version;
    },
    readStream(aggregateId, streamOptions) {
      checkAggregateId(aggregateId);
      return readStream(connection, registry, aggregateId, streamOptions) as AsyncIterable<StoreEvent<unknown>>;
    },
    async *readLog(filter) {
      for await (const batch of scanLog(connection, registry, filter)) {
        for (const { event } of batch.matches) yield event as StoreEvent<unknown>;
      }
    },
    replay: (replayOptions) => runReplay(connection, registry, replayOptions as ReplayOptions<LogEvent>),
    projection(definition) {
      const runner = runnerFor(definition);
      type S = never;
      const current = async (): Promise<ProjectionSnapshot<S>> =>
        (horizon ? await projectionAt(definition, horizon) : await runner.catchUp()) as ProjectionSnapshot<S>;
      return {
        get: current,
        rebuild: (rebuildOptions) => runner.rebuild(rebuildOptions) as Promise<ProjectionSnapshot<S>>,
        subscribe(listener) {
          let last: string | undefined;
          // Deliveries run one after another, each reading the horizon when it starts,
          // so a slow live read can never land after a time-travel read.
          let chain = Promise.resolve();
          const deliver = () => {
            chain = chain
              .then(async () => {
                const snapshot = await current();
                const key = `${JSON.stringify(snapshot.cursor)}|${horizon ? 'past' : 'live'}`;
                if (key !== last) {
                  last = key;
                  listener(snapshot);
                }
              })
              .catch(() => undefined);
          };
          void deliver();
          const stopTravel = onTravel(() => void deliver());
          const stopWatch = watch((change) => {
            if (horizon) return; // frozen in the past until resume
            if (change.kind !== 'projection' || change.name === definition.name) void deliver();
          });
          return () => {
            stopTravel();
            stopWatch();
          };
        },
      };
    },
    subscribe(aggregate, aggregateId, listener, onError) {
      checkAggregateId(aggregateId);
      let lastKey: string | undefined;
      let loading = Promise.resolve();
      const reload = () => {
        loading = loading
          .then(() => loadAggregate(connection, registry, aggregate, aggregateId, horizon ? { until: horizon } : {}))
          .then((result) => {
            const key = `${result.version}|${JSON.stringify(horizon)}`;
            if (key !== lastKey) {
              lastKey = key;
              listener(result as LoadResult<never>);
            }
          })
          .catch((error: unknown) => onError?.(error));
      };
      reload();
      const stopTravel = onTravel(() => {
        lastKey = undefined;
        reload();
      });
      const stopWatch = watch((change) => {
        if (horizon) return; // frozen in the past until resume
        const touched = change.kind === 'appended' && change.aggregates.some(([id]) => id === aggregateId);
        if (touched || change.kind === 'rebased' || change.kind === 'reset') {
          lastKey = undefined;
          reload();
        }
      });
      return () => {
        stopTravel();
        stopWatch();
      };
    },
    subscribeLog(listener) {
      // Two tails: new confirmed events (from the server; our own were delivered while pending)
      // and new pending events (appended here or in another tab).
      let confirmedAfter: LogCursor | null = null;
      let pendingAfter: LogCursor | null = null;
      let ready = false;
      let reading = Promise.resolve();
      const readNew = () => {
        reading = reading
          .then(async () => {
            const fresh: StoreEvent<unknown>[] = [];
            for await (const batch of scanLog(connection, registry, { after: confirmedAfter, status: 'confirmed' })) {
              confirmedAfter = batch.last;
              for (const { event } of batch.matches) if (event.meta.clientId !== clientId) fresh.push(event as StoreEvent<unknown>);
            }
            for await (const batch of scanLog(connection, registry, { after: pendingAfter, status: 'pending' })) {
              pendingAfter = batch.last;
              for (const { event } of batch.matches) fresh.push(event as StoreEvent<unknown>);
            }
            if (ready && fresh.length > 0) listener(fresh);
            ready = true;
          })
          .catch(() => undefined);
      };
      // Start at the current end of the log: only events stored from now on are delivered.
      readNew();
      return watch((change) => {
        if (change.kind === 'appended') readNew();
      });
    },
    async importConfirmed(events) {
      const result = await engine.ingestConfirmed(events);
      return { stored: result.stored, head: result.head };
    },
    sync: {
      status: () => engine.syncStatus(),
      subscribe(listener) {
        void engine.syncStatus().then(listener, () => undefined);
        return watch((change) => {
          if (change.kind === 'sync' || change.kind === 'appended' || change.kind === 'confirmed') {
            void engine.syncStatus().then(listener, () => undefined);
          }
        });
      },
      onOutcome(listener) {
        return watch((change) => {
          if (change.kind === 'outcomes') listener(change.outcomes);
        });
      },
      syncNow: () => engine.syncNow(),
      pause: () => engine.pauseSync(),
      resume: () => engine.resumeSync(),
      rejected: () => engine.rejectedEvents(),
      dismissRejected: (ids) => engine.dismissRejected(ids),
    },
    async info() {
      const stats = await engine.stats();
      return { ...stats, inWorker: connection.inWorker };
    },
    async requestPersistence() {
      const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator?.storage;
      if (!storage?.persist) return false;
      return storage.persist();
    },
    async close() {
      for (const cleanup of [...cleanups]) cleanup();
      await connection.close();
    },
  };
  return store;
}
