import type { AnyAggregateDefinition, StateOf } from '../core/aggregate.ts';
import { ConfigError, ValidationError, type ExpectedVersion } from '../core/errors.ts';
import type { AnyEventDefinition, LogEvent, RecordedEvent, StoredEvent, UnknownEvent } from '../core/event.ts';
import type { AnyProjectionDefinition, ProjectionStateOf } from '../core/projection.ts';
import { createRegistry, type Registry } from '../core/registry.ts';
import { MAX_ID_LENGTH } from '../core/schemas.ts';
import type { AppendOutcome, AppendRequest, Change, LogCursor } from '../../worker/types.ts';
import { loadAggregate, readStream } from './aggregate-loader.ts';
import { connect, type EngineConnection } from './connection.ts';
import { scanLog } from './log-scan.ts';
import { createProjectionRunner, type ProjectionRunner } from './projection-runner.ts';
import { runReplay } from './replay.ts';
import { checkSyncOptions, createDecider, type SyncHandle } from './sync.ts';
import type {
  AppendOptions,
  AppendResult,
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
  if (typeof aggregateId !== 'string' || aggregateId.length === 0 || aggregateId.length > MAX_ID_LENGTH) {
    throw new ValidationError('?', 'aggregateId', `must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
}

function checkExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'any' || expected === 'no-stream') return;
  if (typeof expected === 'number' && Number.isInteger(expected) && expected >= 0) return;
  throw new ValidationError('?', 'expectedVersion', `must be a non-negative integer, 'any' or 'no-stream' (got ${String(expected)})`);
}

function toResult(registry: Registry, outcome: AppendOutcome): AppendResult {
  const stored = JSON.parse(outcome.eventsJson) as StoredEvent[];
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
      const request = buildRequest(aggregateId, events, opts);
      return toResult(registry, await engine.append(request)) as AppendResult<StoreEvent<unknown>>;
    },
    async appendBatch(entries) {
      if (!Array.isArray(entries)) throw new ValidationError('?', 'entries', 'appendBatch expects an array');
      const requests = entries.map((e) => buildRequest(e.aggregateId, e.events, e.options));
      const outcomes = await engine.appendBatch(requests);
      return outcomes.map((o) => toResult(registry, o)) as AppendResult<StoreEvent<unknown>>[];
    },
    async load(aggregate, aggregateId) {
      checkAggregateId(aggregateId);
      return (await loadAggregate(connection, registry, aggregate, aggregateId)) as LoadResult<never>;
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
      return {
        get: () => runner.catchUp() as Promise<ProjectionSnapshot<S>>,
        rebuild: (rebuildOptions) => runner.rebuild(rebuildOptions) as Promise<ProjectionSnapshot<S>>,
        subscribe(listener) {
          let last: unknown;
          const deliver = () =>
            runner
              .catchUp()
              .then((snapshot) => {
                if (snapshot.cursor !== last || last === undefined) {
                  last = snapshot.cursor;
                  listener(snapshot as ProjectionSnapshot<S>);
                }
              })
              .catch(() => undefined);
          void deliver();
          return watch((change) => {
            if (change.kind !== 'projection' || change.name === definition.name) void deliver();
          });
        },
      };
    },
    subscribe(aggregate, aggregateId, listener, onError) {
      checkAggregateId(aggregateId);
      let version = -1;
      let loading = Promise.resolve();
      const reload = () => {
        loading = loading
          .then(() => loadAggregate(connection, registry, aggregate, aggregateId))
          .then((result) => {
            if (result.version !== version) {
              version = result.version;
              listener(result as LoadResult<never>);
            }
          })
          .catch((error: unknown) => onError?.(error));
      };
      reload();
      return watch((change) => {
        if (change.kind === 'appended' && change.aggregates.some(([id]) => id === aggregateId)) reload();
        if (change.kind === 'reset') reload();
      });
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
