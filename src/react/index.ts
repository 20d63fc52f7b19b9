/**
 * chronicle/react: React hooks over a store's live queries.
 *
 * Each hook is a thin adapter from one of the store's `subscribe` methods to
 * `useSyncExternalStore`, so React renders exactly the values the store
 * delivers (aggregate state, projection state, sync status, time-travel
 * position), in this tab or after changes made in another tab, and shows the
 * past while the store is time traveling.
 *
 * React is an optional peer dependency: only this entry point imports it.
 */
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import type {
  AnyAggregateDefinition,
  AnyProjectionDefinition,
  LogCursor,
  ProjectionStateOf,
  StateOf,
  Store,
  SyncStatus,
} from '../client/index.ts';

/** The parts of a store the hooks use; any `Store<...>` fits. */
export type HookStore = Pick<Store, 'subscribe' | 'projection' | 'sync' | 'timeTravel'>;

export interface AggregateView<TState> {
  /** The aggregate's state (its initial state until the first load finishes). */
  state: TState;
  /** The stream version the state includes; 0 for a stream with no events. */
  version: number;
  /** True until the first load has finished. */
  loading: boolean;
  /** The last load's error, or null. */
  error: unknown;
}

export interface ProjectionView<TState> {
  state: TState;
  /** The last event applied, or null. */
  cursor: LogCursor | null;
  applied: number;
  loading: boolean;
}

export interface TimeTravelView {
  /** Where the store is traveling, or null at the head. */
  position: LogCursor | null;
  /** True while live queries show the past (appends are refused meanwhile). */
  traveling: boolean;
  to(cursor: LogCursor): void;
  resume(): void;
}

/**
 * An external store for useSyncExternalStore: a cached value, listeners, and
 * a source started on the first subscriber and stopped after the last.
 */
interface Source<T> {
  get(): T;
  subscribe(listener: () => void): () => void;
}

/** Unsubscribing after the store was closed is not an error worth breaking a React unmount for. */
function stopQuietly(stop: () => void): void {
  try {
    stop();
  } catch {
    // the store is closed: nothing is listening any more
  }
}

function createSource<T>(initial: T, start: (emit: (value: T) => void) => () => void): Source<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  return {
    get: () => value,
    subscribe(listener) {
      listeners.add(listener);
      if (!stop) {
        stop = start((next) => {
          value = next;
          for (const l of [...listeners]) l();
        });
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && stop) {
          const s = stop;
          stop = undefined;
          stopQuietly(s);
        }
      };
    },
  };
}

function useSource<T>(source: Source<T>): T {
  return useSyncExternalStore(source.subscribe, source.get, source.get);
}

/**
 * The live state of one aggregate: re-renders after every append to it (here
 * or in another tab), after a sync rebase, and when time travel moves.
 *
 * ```tsx
 * const { state, version, loading } = useAggregate(store, Order, orderId);
 * ```
 */
export function useAggregate<A extends AnyAggregateDefinition>(
  store: HookStore,
  aggregate: A,
  aggregateId: string,
): AggregateView<StateOf<A>> {
  const source = useMemo((): Source<AggregateView<StateOf<A>>> => {
    let last: AggregateView<StateOf<A>> = {
      state: aggregate.initialState() as StateOf<A>,
      version: 0,
      loading: true,
      error: null,
    };
    return createSource(last, (emit) =>
      store.subscribe(
        aggregate,
        aggregateId,
        (result) => emit((last = { state: result.state as StateOf<A>, version: result.version, loading: false, error: null })),
        (error) => emit((last = { ...last, loading: false, error })),
      ),
    );
  }, [store, aggregate, aggregateId]);
  return useSource(source);
}

/**
 * A projection's live state: re-renders after each change it applies, and
 * when time travel moves (then it is folded up to the travel position).
 * List the projection in openStore's `projections` to keep it live.
 */
export function useProjection<P extends AnyProjectionDefinition>(store: HookStore, definition: P): ProjectionView<ProjectionStateOf<P>> {
  const source = useMemo(() => {
    const initial: ProjectionView<ProjectionStateOf<P>> = {
      state: definition.initialState() as ProjectionStateOf<P>,
      cursor: null,
      applied: 0,
      loading: true,
    };
    const handle = store.projection(definition);
    return createSource(initial, (emit) =>
      handle.subscribe((snapshot) =>
        emit({ state: snapshot.state as ProjectionStateOf<P>, cursor: snapshot.cursor, applied: snapshot.applied, loading: false }),
      ),
    );
  }, [store, definition]);
  return useSource(source);
}

/**
 * Where sync stands (state, pending count, positions, last error); null until
 * the first status arrives. A store opened without `sync` reports 'disabled'.
 */
export function useSyncStatus(store: HookStore): SyncStatus | null {
  const source = useMemo(() => createSource<SyncStatus | null>(null, (emit) => store.sync.subscribe((status) => emit(status))), [store]);
  return useSource(source);
}

/**
 * The store's time-travel position, with `to` and `resume`. While traveling,
 * useAggregate and useProjection show the state as of that position.
 */
export function useTimeTravel(store: HookStore): TimeTravelView {
  const { timeTravel } = store;
  const subscribe = useCallback(
    (listener: () => void) => {
      const stop = timeTravel.subscribe(() => listener());
      return () => stopQuietly(stop);
    },
    [timeTravel],
  );
  const getPosition = useCallback(() => timeTravel.position(), [timeTravel]);
  const position = useSyncExternalStore(subscribe, getPosition, getPosition);
  return useMemo(
    () => ({
      position,
      traveling: position !== null,
      to: (cursor: LogCursor) => timeTravel.to(cursor),
      resume: () => timeTravel.resume(),
    }),
    [position, timeTravel],
  );
}
