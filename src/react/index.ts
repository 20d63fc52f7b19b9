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
import { createSource, createSourceCache, stopQuietly, type Source } from './shared-source.ts';

/** Whether a value has what the hooks read of a definition before the store judges it (plain JavaScript may pass anything). */
function isDefinition(value: unknown): value is { initialState(): unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { initialState?: unknown }).initialState === 'function';
}

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
  /** The projection's state (its initial state until the first delivery). */
  state: TState;
  /** The last event applied, or null. */
  cursor: LogCursor | null;
  applied: number;
  /** True until the first delivery (or failure). */
  loading: boolean;
  /**
   * The last delivery's error (a handler that threw, a fold over compacted
   * history, a closed store), or null; `state` is then the last one delivered.
   */
  error: unknown;
}

export interface TimeTravelView {
  /** Where the store is traveling, or null at the head. */
  position: LogCursor | null;
  /** True while live queries show the past (appends are refused meanwhile). */
  traveling: boolean;
  to(cursor: LogCursor): void;
  resume(): void;
}

const sharedSources = createSourceCache<HookStore>();

const atHead = (): LogCursor | null => null;

function useSource<T>(source: Source<T>): T {
  return useSyncExternalStore(source.subscribe, source.get, source.getServer);
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
  // A definition or id of the wrong kind (from plain JavaScript) reaches the view's error, as the store's subscribe
  // refuses it (ValidationError), instead of crashing the render that builds the key or the first state.
  const usable = isDefinition(aggregate);
  // The key, not the definition object, decides the source (see shared-source.ts); JSON keeps ids with any characters apart.
  const key = JSON.stringify([
    'aggregate',
    usable ? aggregate.type : null,
    typeof aggregateId === 'string' ? aggregateId : String(aggregateId),
  ]);
  const source = sharedSources.source(store, key, (sharing): Source<AggregateView<StateOf<A>>> => {
    let last: AggregateView<StateOf<A>> = {
      state: (usable ? aggregate.initialState() : undefined) as StateOf<A>,
      version: 0,
      loading: true,
      error: null,
    };
    const failed = (error: unknown) => (last = { ...last, loading: false, error });
    return createSource(
      last,
      (emit) =>
        store.subscribe(
          aggregate,
          aggregateId,
          (result) => emit((last = { state: result.state as StateOf<A>, version: result.version, loading: false, error: null })),
          (error) => emit(failed(error)),
        ),
      failed,
      sharing,
    );
  });
  return useSource(source);
}

/**
 * A projection's live state: re-renders after each change it applies, and
 * when time travel moves (then it is folded up to the travel position).
 * List the projection in openStore's `projections` to keep it live.
 */
export function useProjection<P extends AnyProjectionDefinition>(store: HookStore, definition: P): ProjectionView<ProjectionStateOf<P>> {
  const usable = isDefinition(definition); // else store.projection's ValidationError reaches the view's error
  const source = sharedSources.source(store, JSON.stringify(['projection', usable ? definition.name : null]), (sharing) => {
    let last: ProjectionView<ProjectionStateOf<P>> = {
      state: (usable ? definition.initialState() : undefined) as ProjectionStateOf<P>,
      cursor: null,
      applied: 0,
      loading: true,
      error: null,
    };
    const failed = (error: unknown) => (last = { ...last, loading: false, error });
    return createSource(
      last,
      (emit) =>
        // The store learns of the projection when a component first shows it, not while rendering.
        store.projection(definition).subscribe(
          (snapshot) =>
            emit(
              (last = {
                state: snapshot.state as ProjectionStateOf<P>,
                cursor: snapshot.cursor,
                applied: snapshot.applied,
                loading: false,
                error: null,
              }),
            ),
          (error) => emit(failed(error)),
        ),
      failed,
      sharing,
    );
  });
  return useSource(source);
}

/**
 * Where sync stands (state, pending count, positions, last error); null until
 * the first status arrives. A store opened without `sync` reports 'disabled'.
 */
export function useSyncStatus(store: HookStore): SyncStatus | null {
  const source = sharedSources.source(store, '["sync"]', (sharing) => {
    let last = '';
    return createSource<SyncStatus | null>(
      null,
      // Told after every append and confirmation: a status equal to the last one is no news (no re-render).
      (emit) =>
        store.sync.subscribe((status) => {
          const text = JSON.stringify(status);
          if (text === last) return;
          last = text;
          emit(status);
        }),
      () => null,
      sharing,
    );
  });
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
  // A server renders the head (see Source.getServer): hydration must too, even in a tab already traveling.
  const position = useSyncExternalStore(subscribe, getPosition, atHead);
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
