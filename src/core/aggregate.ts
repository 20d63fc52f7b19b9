import { ConfigError } from './errors.ts';
import { findIdProblem, showName } from './text-rules.ts';
import {
  handlerTable,
  withHandlerTable,
  type AnyEventDefinition,
  type EventInputOf,
  type EventTypeOf,
  type RecordedEventOf,
} from './event.ts';

export type Reducers<TState, TDefs extends readonly AnyEventDefinition[]> = {
  [T in EventTypeOf<TDefs>]: (state: TState, event: Extract<RecordedEventOf<TDefs>, { type: T }>) => TState;
};

/**
 * What to do with one of this client's pending events when the server's
 * stream moved under it (a sync conflict): keep it (re-sequenced after the
 * server's events), drop it (it ends as rejected, with the reason), or keep a
 * transformed version of its data. `state` is the aggregate as of the
 * server's events plus the pending events kept so far.
 */
export type RebaseDecisionInput<TData = unknown> = 'keep' | 'drop' | { drop: string } | { transform: TData };

/**
 * A transform's data is typed as an append's: the schema's input (a field
 * with a default may be left out), of any of the aggregate's event types. It
 * is checked at run time against the event's own type, as an append is, and
 * data that type refuses rejects the event with the reason.
 */
export type RebaseRule<TState, TDefs extends readonly AnyEventDefinition[]> = (
  event: RecordedEventOf<TDefs>,
  context: { state: TState },
) => RebaseDecisionInput<EventInputOf<TDefs>['data']>;

/**
 * An aggregate: the events its stream holds, an initial state, one reducer per
 * event type, and the reducer version. Bump `version` whenever a reducer
 * changes: snapshots written by another version are ignored and rebuilt.
 */
export interface AggregateDefinition<
  TType extends string = string,
  TState = unknown,
  TDefs extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
> {
  readonly kind: 'aggregate';
  readonly type: TType;
  readonly version: number;
  readonly events: TDefs;
  readonly initialState: () => TState;
  readonly reducers: Reducers<TState, TDefs>;
  /** Take a snapshot when a load applied at least this many events after the last one. 0 disables. */
  readonly snapshotEvery: number;
  /** Decides the fate of pending events in a sync conflict; without one, every event is kept. */
  readonly rebase?: RebaseRule<TState, TDefs>;
}

export interface DefineAggregateOptions<TType extends string, TState, TDefs extends readonly AnyEventDefinition[]> {
  type: TType;
  events: TDefs;
  initialState: () => TState;
  /**
   * The state type comes from initialState alone, so a reducer returning a wider type is an error.
   * NoInfer wraps the whole table, not only the state: TypeScript then gives a reducer's result the
   * state type (once inferred) as its contextual type, so `status: 'shipped'` stays a literal and fits
   * a union there without `as const`. (Not for a reducer that declares no parameter, `() => ({ ... })`:
   * TypeScript checks it before the state type is known. Give it `(state)`, or annotate its result.)
   */
  reducers: NoInfer<Reducers<TState, TDefs>>;
  /** Reducer version; defaults to 1. */
  version?: number;
  /** Defaults to 100. */
  snapshotEvery?: number;
  rebase?: RebaseRule<NoInfer<TState>, TDefs>;
}

export function defineAggregate<TType extends string, TState, const TDefs extends readonly AnyEventDefinition[]>(
  options: DefineAggregateOptions<TType, TState, TDefs>,
): AggregateDefinition<TType, TState, TDefs> {
  // As in defineEvent: plain JavaScript callers get the wrong shape named, not a crash later.
  if (typeof options !== 'object' || options === null || typeof options.type !== 'string' || options.type.length === 0) {
    throw new ConfigError('defineAggregate({ type, events, initialState, reducers }): type must be a non-empty string');
  }
  // Every event of the aggregate carries its type to the sync server, which refuses a type its rule for ids refuses.
  const typeProblem = findIdProblem(options.type);
  if (typeProblem !== undefined) throw new ConfigError(`defineAggregate(${showName(options.type)}): type ${typeProblem}`);
  if (!Array.isArray(options.events) || options.events.some((def) => (def as { kind?: unknown } | undefined)?.kind !== 'event')) {
    throw new ConfigError(`defineAggregate(${options.type}): events must be an array of defineEvent(...) definitions`);
  }
  if (typeof options.initialState !== 'function') {
    throw new ConfigError(`defineAggregate(${options.type}): initialState must be a function returning the initial state`);
  }
  if (typeof options.reducers !== 'object' || options.reducers === null) {
    throw new ConfigError(`defineAggregate(${options.type}): reducers must be an object with a reducer per event type`);
  }
  const version = options.version ?? 1;
  const snapshotEvery = options.snapshotEvery ?? 100;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError(`defineAggregate(${options.type}): version must be a positive integer`);
  }
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 0) {
    throw new ConfigError(`defineAggregate(${options.type}): snapshotEvery must be a non-negative integer`);
  }
  const reducers = handlerTable<unknown>(options.reducers, `defineAggregate(${options.type})`, 'reducer');
  for (const def of options.events) {
    // Looked up in the table: an event type `toString` needs a reducer of its own, not Object.prototype's.
    if (reducers[def.type] === undefined) {
      throw new ConfigError(`defineAggregate(${options.type}): no reducer for event type ${def.type}`);
    }
  }
  return {
    kind: 'aggregate',
    type: options.type,
    version,
    events: options.events,
    initialState: options.initialState,
    reducers: reducers as Reducers<TState, TDefs>,
    snapshotEvery,
    ...(options.rebase ? { rebase: options.rebase } : {}),
  };
}

/**
 * What any aggregate definition has in common whatever its state type: the
 * covariant parts only, so every AggregateDefinition is assignable to it.
 */
export interface AnyAggregateDefinition {
  readonly kind: 'aggregate';
  readonly type: string;
  readonly version: number;
  readonly events: readonly AnyEventDefinition[];
  readonly snapshotEvery: number;
  readonly initialState: () => unknown;
}

/** The untyped view the engine uses to run any aggregate's reducers. */
export interface AggregateRuntime {
  readonly type: string;
  readonly version: number;
  readonly snapshotEvery: number;
  readonly initialState: () => unknown;
  readonly reducers: Readonly<Record<string, (state: unknown, event: unknown) => unknown>>;
  readonly rebase?: (event: unknown, context: { state: unknown }) => RebaseDecisionInput;
}

/**
 * The definition as the engine runs it. Every lookup of a reducer by an event's type goes through this, so
 * the reducers are always a table of own members (handlerTable), also for a definition not made by
 * defineAggregate.
 */
export function aggregateRuntime(def: AnyAggregateDefinition): AggregateRuntime {
  return withHandlerTable(def as unknown as AggregateRuntime, 'reducers', `aggregate ${showName(def.type)}`, 'reducer');
}

export type StateOf<A> = A extends AggregateDefinition<string, infer S, readonly AnyEventDefinition[]> ? S : never;
export type EventsOf<A> = A extends AggregateDefinition<string, unknown, infer D> ? D : never;
