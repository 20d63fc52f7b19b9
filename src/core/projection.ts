import { ConfigError } from './errors.ts';
import { handlerTable, withHandlerTable, type AnyEventDefinition, type EventTypeOf, type RecordedEventOf } from './event.ts';
import { findIdProblem, showName } from './text-rules.ts';

export interface HandlerContext {
  /** True while rebuilding from history: skip side effects (emails, payments, webhooks). */
  readonly isReplay: boolean;
}

export type ProjectionHandlers<TState, TDefs extends readonly AnyEventDefinition[]> = {
  [T in EventTypeOf<TDefs>]?: (state: TState, event: Extract<RecordedEventOf<TDefs>, { type: T }>, context: HandlerContext) => TState;
};

/**
 * A named read model fed by the whole log in log order. Its state and the
 * position of the last event it applied are committed together, so an event
 * is applied exactly once. Bump `version` when handlers change: the
 * projection is then rebuilt from scratch.
 */
export interface ProjectionDefinition<
  TName extends string = string,
  TState = unknown,
  TDefs extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
> {
  readonly kind: 'projection';
  readonly name: TName;
  readonly version: number;
  readonly events: TDefs;
  readonly initialState: () => TState;
  readonly handlers: ProjectionHandlers<TState, TDefs>;
}

export interface DefineProjectionOptions<TName extends string, TState, TDefs extends readonly AnyEventDefinition[]> {
  name: TName;
  events: TDefs;
  initialState: () => TState;
  /** As an aggregate's reducers (DefineAggregateOptions): the state type comes from initialState alone. */
  handlers: NoInfer<ProjectionHandlers<TState, TDefs>>;
  version?: number;
}

export function defineProjection<TName extends string, TState, const TDefs extends readonly AnyEventDefinition[]>(
  options: DefineProjectionOptions<TName, TState, TDefs>,
): ProjectionDefinition<TName, TState, TDefs> {
  // The name keys the projection's stored record (and names it in devtools and compaction reports), as a
  // reaction's name keys its checkpoint: the same rule for both.
  const what = `defineProjection(${showName(options?.name)})`;
  const problem = findIdProblem(options?.name);
  if (problem !== undefined) throw new ConfigError(`${what}: name ${problem}`);
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError(`${what}: version must be a positive integer`);
  }
  if (typeof options.handlers !== 'object' || options.handlers === null) {
    throw new ConfigError(`${what}: handlers must be an object with a handler per event type`);
  }
  return {
    kind: 'projection',
    name: options.name,
    version,
    events: options.events,
    initialState: options.initialState,
    handlers: handlerTable(options.handlers, what, 'handler') as ProjectionHandlers<TState, TDefs>,
  };
}

/** The covariant parts every projection definition shares. */
export interface AnyProjectionDefinition {
  readonly kind: 'projection';
  readonly name: string;
  readonly version: number;
  readonly events: readonly AnyEventDefinition[];
  readonly initialState: () => unknown;
}

export interface ProjectionRuntime {
  readonly name: string;
  readonly version: number;
  readonly initialState: () => unknown;
  readonly handlers: Readonly<Record<string, ((state: unknown, event: unknown, ctx: HandlerContext) => unknown) | undefined>>;
}

/** The definition as the engine runs it: its handlers a table of own members, as aggregateRuntime's reducers. */
export function projectionRuntime(def: AnyProjectionDefinition): ProjectionRuntime {
  return withHandlerTable(def as unknown as ProjectionRuntime, 'handlers', `projection ${showName(def.name)}`, 'handler');
}

export type ProjectionStateOf<P> = P extends ProjectionDefinition<string, infer S, readonly AnyEventDefinition[]> ? S : never;
