import type { AnyAggregateDefinition } from '../core/aggregate.ts';
import { ConfigError, StoreClosedError } from '../core/errors.ts';
import { checkDefinition, checkDefinitionLists, checkJobOptions } from './argument-checks.ts';
import type { AnyEventDefinition } from '../core/event.ts';
import type { AnyReactionDefinition } from '../core/reaction.ts';
import { createRegistry } from '../core/registry.ts';
import { createAppender } from './append.ts';
import { checkRetention } from '../core/compaction.ts';
import { createCompactor } from './compaction.ts';
import { createForget } from './forget.ts';
import { scheduleCompaction } from './compaction-schedule.ts';
import { createChangeHub } from './change-hub.ts';
import { createClosedSignal, type ClosedSignal } from './closed-signal.ts';
import { createJobTracker, guardConnection, withEitherSignal, type GuardedConnection } from './closing.ts';
import { connect } from './connection.ts';
import type { StoreContext } from './context.ts';
import { createInspector } from './inspect.ts';
import { createLiveQueries } from './live.ts';
import { createMetrics, timeAppends, timeReplay, type Metrics } from './metrics.ts';
import { createProjections } from './projections.ts';
import { checkReactionDefinitions, createReactions, type Reactions } from './reactions.ts';
import { createReader } from './reads.ts';
import type { Store } from './store-api.ts';
import { checkSyncOptions, createDecider, createSyncHandle, splitEncryption } from './sync.ts';
import { createTimeTravel } from './time-travel.ts';
import { createTransfer } from './transfer.ts';
import type { StoreOptions } from './types.ts';

export type { Store, StoreEvent } from './store-api.ts';

function checkOptions(options: StoreOptions): void {
  if (!options || typeof options.name !== 'string' || options.name.length === 0) {
    throw new ConfigError('openStore needs a non-empty name');
  }
  if (options.maxEventBytes !== undefined && !(Number.isInteger(options.maxEventBytes) && options.maxEventBytes > 0)) {
    throw new ConfigError('maxEventBytes must be a positive integer');
  }
  checkDefinitionLists(options as unknown as Record<string, unknown>);
  checkReactionDefinitions(options.reactions ?? []);
  if (options.durability !== undefined && options.durability !== 'relaxed' && options.durability !== 'strict') {
    throw new ConfigError("durability must be 'relaxed' or 'strict'", { durability: options.durability });
  }
  if (options.sync !== undefined) checkSyncOptions(options.sync);
  if (options.retention !== undefined) checkRetention(options.retention);
}

export async function openStore<
  const TEvents extends readonly AnyEventDefinition[] = readonly [],
  const TAggregates extends readonly AnyAggregateDefinition[] = readonly [],
  const TReactions extends readonly AnyReactionDefinition[] = readonly [],
>(options: StoreOptions<TEvents, TAggregates, TReactions>): Promise<Store<TEvents, TAggregates, TReactions>> {
  checkOptions(options);
  const registry = createRegistry({
    // A reaction's event types are the store's too, like an aggregate's; so are the types a listed projection
    // handles that nothing else defines (events another device appends): read as unknown, they would stop
    // the projection before the first one for good.
    events: [...(options.events ?? []), ...(options.reactions ?? []).flatMap((reaction) => reaction?.events ?? [])],
    aggregates: options.aggregates ?? [],
    fallbackEvents: (options.projections ?? []).flatMap((projection) => projection?.events ?? []),
    maxEventBytes: options.maxEventBytes,
  });
  const guard = guardConnection(
    await connect({ name: options.name, appendDurability: options.durability ?? 'relaxed' }, options.worker ?? 'auto'),
    options.name,
  );
  const opened: OpenedParts = {};
  try {
    return (await assemble(options, registry, guard, opened)) as unknown as Store<TEvents, TAggregates, TReactions>;
  } catch (error) {
    // The caller gets no store to close: what was opened for it closes here (its engine, its worker,
    // reactions that may already lead), or every failed attempt would leave one running.
    await abandon(guard, opened);
    throw error;
  }
}

/** What assemble has made so far, for abandon. */
interface OpenedParts {
  hub?: StoreContext['hub'];
  reactions?: Reactions;
  store?: Store;
}

/** Closes what a failed openStore opened, whatever step it failed at. */
async function abandon(guard: GuardedConnection, { hub, reactions, store }: OpenedParts): Promise<void> {
  if (store) {
    await store.close().catch(() => undefined);
    return;
  }
  await reactions?.stop().catch(() => undefined);
  // Closing is all that is left to do; the caller hears the error that stopped the open.
  await closeEngine(guard, hub).catch(() => undefined);
}

/**
 * The last steps of closing, once reactions and jobs have stopped: the
 * engine, then the change feed. The engine's close lets a sync round in
 * flight finish its push and the pull that confirms it; the outcomes that
 * pull publishes still reach the app's onOutcome listeners, which would
 * otherwise never hear them (after a reopen those events are confirmed
 * already). Calls made meanwhile are refused (guard.closing).
 */
async function closeEngine(guard: GuardedConnection, hub: StoreContext['hub'] | undefined): Promise<void> {
  guard.closing();
  try {
    await guard.connection.close();
  } finally {
    hub?.close();
    // Whatever the engine did not answer (a terminated worker never will) settles now.
    guard.shut();
  }
}

/** The store on a connected engine: its parts subscribed and started, sync last. Records each part in `opened`. */
async function assemble(
  options: StoreOptions,
  registry: StoreContext['registry'],
  guard: GuardedConnection,
  opened: OpenedParts,
): Promise<Store> {
  const { connection } = guard;
  // A store that stops without close() (the engine's worker ended, or the database was deleted under it)
  // answers nothing more: every call in flight and after rejects with that StoreClosedError instead of hanging.
  let stop: (error: StoreClosedError) => void = () => undefined;
  const stopped = new Promise<StoreClosedError>((resolve) => {
    stop = (error) => {
      guard.shut(error);
      resolve(error);
    };
  });
  void connection.stopped?.then(() => stop(new StoreClosedError(options.name, 'engine-stopped')));
  // Closed by close() (createStore) or stopped on its own, whichever comes first.
  const closed = createClosedSignal();
  void stopped.then((error) => closed.close(error));
  const { clientId } = await connection.engine.stats();
  // Subscribed before anything else: no commit from here on goes unheard.
  const hub = (opened.hub = await createChangeHub(connection));
  hub.watch((change) => {
    if (change.kind === 'stopped') stop(new StoreClosedError(options.name, change.reason));
  });
  const metrics = createMetrics();
  const ctx: StoreContext = {
    name: options.name,
    connection,
    registry,
    clientId,
    hub,
    travel: createTimeTravel(),
    openedAt: hub.end(),
    metrics: metrics.recorder,
    onClosed: closed.onClosed,
  };
  const reactions = (opened.reactions = await createReactions(ctx, options.reactions ?? []));
  // A store that stopped on its own calls no reaction handler again (one waiting to retry would, after its backoff).
  void stopped.then(() => reactions.stop().catch(() => undefined));
  const store = (opened.store = createStore(options, ctx, guard, reactions, metrics, stopped, closed));
  if (options.sync) {
    const { getToken, webSocket, fetch, encryption, ...config } = options.sync;
    const decide = createDecider(connection, registry, options.aggregates ?? []);
    const { settings, encryptionKeys } = splitEncryption(encryption);
    const callbacks = connection.callable({
      getToken: async () => (getToken ? await getToken() : config.token),
      decide,
      encryptionKeys,
    });
    if (connection.inWorker && (webSocket || fetch)) {
      throw new ConfigError('sync.webSocket and sync.fetch only apply in-process (worker: false)');
    }
    await connection.engine.startSync({ ...config, ...settings }, callbacks, connection.inWorker ? {} : { webSocket, fetch });
  }
  return store;
}

/** Wires the parts of a store (each in its own module) into the public object, and closes them in order. */
function createStore(
  options: StoreOptions,
  ctx: StoreContext,
  guard: GuardedConnection,
  reactions: Reactions,
  metrics: Metrics,
  stopped: Promise<StoreClosedError>,
  closed: ClosedSignal,
): Store {
  const { connection, hub, travel } = ctx;
  const jobs = createJobTracker(ctx.name);
  /**
   * A long job (rebuild, compact) that stops on its own signal or when the store closes, its options checked
   * first. The job's own promise is returned (handled by the tracker from the start): an async wrapper's new
   * promise was an unhandled rejection when the job failed while the app awaited something else (close()).
   */
  const stoppableJob = <T>(
    call: string,
    options: { signal?: AbortSignal | undefined } | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> => {
    try {
      checkJobOptions(options, call);
    } catch (error) {
      return Promise.reject(error);
    }
    return jobs.track((closed) => withEitherSignal([options?.signal, closed], run));
  };
  const projections = createProjections(ctx);
  for (const definition of options.projections ?? []) projections.follow(definition);

  let closing: Promise<void> | undefined;
  /**
   * What calls made now reject with: the store stopped on its own (the engine's error), or close() began;
   * else undefined. While a reaction handler still runs, close() waits for it (README, Delivery guarantees),
   * and the store serves calls until then: the handler's own append of its follow-up event, refused, would
   * fail it, and the next session would call it again. Which caller makes a call cannot be told apart, so
   * the app's calls in that window are served too.
   */
  const closedError = (): StoreClosedError | undefined =>
    guard.shutError() ?? (closing !== undefined && !reactions.handling() ? new StoreClosedError(ctx.name) : undefined);
  const reader = createReader(ctx, jobs);
  // A copy of the policy as it was checked: a caller changing its object later must not change what compaction drops.
  const retention = options.retention ? { ...options.retention } : undefined;
  const compactor = createCompactor(ctx, options.aggregates ?? [], retention);
  const background = retention ? scheduleCompaction(ctx, compactor) : undefined;
  const forget = createForget(ctx, {
    projectionVersion: (name) => projections.versionOf(name),
    job: (name) => jobs.isRunning(name),
    reaction: (name) => reactions.registers(name),
  });
  const store: Store = {
    name: ctx.name,
    inWorker: connection.inWorker,
    stopped,
    ...timeAppends(createAppender(ctx), ctx.metrics),
    ...reader,
    replay: timeReplay(reader.replay, ctx.metrics),
    ...createInspector(ctx),
    ...createTransfer(ctx),
    ...createLiveQueries(ctx),
    projection(definition) {
      checkDefinition(definition, 'projection');
      const handle = projections.handle(definition);
      return {
        ...handle,
        // A rebuild stops like a replay job when the store closes.
        rebuild: (rebuildOptions) => stoppableJob('rebuild', rebuildOptions, (signal) => handle.rebuild({ ...rebuildOptions, signal })),
      };
    },
    timeTravel: travel.api,
    reactions: reactions.api as Store['reactions'],
    sync: createSyncHandle(connection, hub),
    metrics: metrics.handle(connection, hub, closedError),
    async info() {
      const stats = await connection.engine.stats();
      return { ...stats, inWorker: connection.inWorker };
    },
    compact: (compactOptions) => stoppableJob('compact', compactOptions, (signal) => compactor.compact({ ...compactOptions, signal })),
    forget,
    async requestPersistence() {
      const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator?.storage;
      if (!storage?.persist) return false;
      return storage.persist();
    },
    close() {
      closing ??= (async () => {
        closed.close(new StoreClosedError(ctx.name));
        metrics.stop();
        await background?.stop();
        // Jobs first: they end with AbortedError once their checkpoint is saved, which needs the engine.
        await jobs.stop();
        // The handler in flight finishes and is recorded; the engine's close then lets the reactions lock go.
        await reactions.stop();
        await closeEngine(guard, hub);
      })();
      return closing;
    },
  };
  return gateAfterClose(store, closedError);
}

/** Methods that return a promise: after close() (or the store stopping) they reject with StoreClosedError. */
const ASYNC_METHODS = [
  'append',
  'appendBatch',
  'load',
  'snapshot',
  'replay',
  'inspect',
  'inspectProjection',
  'importLog',
  'importConfirmed',
  'info',
  'compact',
  'forget',
] as const;
/** Methods that return an async iterable: after close() its first step rejects with StoreClosedError. */
const ITERATING_METHODS = ['readStream', 'readLog', 'scan', 'exportLog'] as const;
/** Methods that start listening: after close() they throw StoreClosedError. */
const LISTENING_METHODS = ['subscribe', 'subscribeLog'] as const;

/**
 * Calls made after close() began get StoreClosedError at once, rather than
 * reaching an engine that is going away (calls already running finish: see
 * guardConnection for those the engine never answers).
 */
function gateAfterClose(store: Store, closedError: () => StoreClosedError | undefined): Store {
  const gated = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ASYNC_METHODS) {
    const inner = gated[method]!;
    gated[method] = (...args) => {
      const error = closedError();
      return error ? Promise.reject(error) : inner(...args);
    };
  }
  for (const method of ITERATING_METHODS) {
    const inner = gated[method]!;
    gated[method] = (...args) => {
      const error = closedError();
      if (!error) return inner(...args);
      return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
    };
  }
  const refuseListening = (target: Record<string, (...args: unknown[]) => unknown>, method: string): void => {
    const inner = target[method]!;
    target[method] = (...args) => {
      const error = closedError();
      if (error) throw error;
      return inner.apply(target, args);
    };
  };
  for (const method of LISTENING_METHODS) refuseListening(gated, method);
  // The handles' own subscriptions too: a listener added after close() would never hear anything.
  refuseListening(store.sync as unknown as Record<string, (...args: unknown[]) => unknown>, 'subscribe');
  refuseListening(store.reactions as unknown as Record<string, (...args: unknown[]) => unknown>, 'subscribe');
  return store;
}
