import { ConfigError } from './errors.ts';
import { findIdProblem, showName } from './text-rules.ts';
import type { z } from 'zod';

/**
 * An event type: its name, the zod schema of its current data, the schema
 * version events are written with, and upcasters that lift data written with
 * an older version one step up. Stored bytes are never rewritten: upcasting
 * happens on every read.
 */
export interface EventDefinition<TType extends string = string, TData = unknown, TInput = TData> {
  readonly kind: 'event';
  readonly type: TType;
  readonly version: number;
  /** Parses what an app appends (TInput: fields with defaults may be left out) into what is stored and read (TData). */
  readonly schema: z.ZodType<TData, TInput>;
  /** upcasters[n] turns data of version n into data of version n + 1. */
  readonly upcasters: Readonly<Record<number, Upcaster>>;
}

/**
 * Lifts one event's data one version up. Its parameter is the data as an
 * older build stored it: `unknown` unless annotated (old shapes are history,
 * which no schema of this build describes), and any annotation is accepted.
 * What the last upcaster returns is checked against the schema as an
 * append's data is (defaults filled, unknown keys dropped), so reducers see
 * what a fresh append of it would have stored.
 */
// A method's parameter is bivariant: an annotated upcaster fits, and an unannotated one reads `unknown`, not `never`.
export type Upcaster = { lift(data: unknown): unknown }['lift'];

export interface DefineEventOptions<TType extends string, TSchema extends z.ZodType> {
  type: TType;
  schema: TSchema;
  /** The version new events are written with; defaults to 1. */
  version?: number;
  upcasters?: Record<number, Upcaster>;
}

export function defineEvent<TType extends string, TSchema extends z.ZodType>(
  options: DefineEventOptions<TType, TSchema>,
): EventDefinition<TType, z.output<TSchema>, z.input<TSchema>> {
  // Apps in plain JavaScript get no compile-time check: a wrong shape is named here, not as a crash later.
  if (typeof options !== 'object' || options === null || typeof options.type !== 'string' || options.type.length === 0) {
    throw new ConfigError('defineEvent({ type, schema }): type must be a non-empty string');
  }
  // The sync server refuses a type its rule for ids refuses (NUL, lone surrogate, over 128 characters): such
  // events would be stored here and then refused at every push, so the definition is refused instead.
  const typeProblem = findIdProblem(options.type);
  if (typeProblem !== undefined) throw new ConfigError(`defineEvent(${showName(options.type)}): type ${typeProblem}`);
  if (typeof (options.schema as { safeParse?: unknown } | undefined)?.safeParse !== 'function') {
    throw new ConfigError(`defineEvent(${options.type}): schema must be a zod schema`);
  }
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError(`defineEvent(${options.type}): version must be a positive integer`);
  }
  const upcasters = options.upcasters ?? {};
  for (let v = 1; v < version; v++) {
    if (typeof upcasters[v] !== 'function') {
      throw new ConfigError(`defineEvent(${options.type}): version ${version} needs an upcaster from version ${v}`);
    }
  }
  return {
    kind: 'event',
    type: options.type,
    version,
    schema: options.schema as z.ZodType<z.output<TSchema>, z.input<TSchema>>,
    upcasters,
  };
}

// Structural "any event definition": TData and TInput are erased to unknown.
export type AnyEventDefinition = EventDefinition<string, unknown, unknown>;

/** The union of `{ type, data, input }` shapes an array of definitions allows: `data` as read, `input` as appended. */
export type EventShape<TDefs extends readonly AnyEventDefinition[]> = {
  [K in keyof TDefs]: TDefs[K] extends EventDefinition<infer T, infer D, infer I> ? { type: T; data: D; input: I } : never;
}[number];

export type EventTypeOf<TDefs extends readonly AnyEventDefinition[]> = EventShape<TDefs>['type'];

export type DataOf<TDefs extends readonly AnyEventDefinition[], T extends string> = Extract<EventShape<TDefs>, { type: T }>['data'];

/** What an app passes to append. `id` defaults to a fresh UUIDv7. */
export interface EventInput<TType extends string = string, TData = unknown> {
  type: TType;
  data: TData;
  id?: string;
  meta?: {
    /** Epoch milliseconds; defaults to now. */
    occurredAt?: number;
    correlationId?: string;
    causationId?: string;
  };
}

export type EventInputOf<TDefs extends readonly AnyEventDefinition[]> = {
  [K in keyof TDefs]: TDefs[K] extends EventDefinition<infer T, infer _D, infer I> ? EventInput<T, I> : never;
}[number];

export interface EventMeta {
  occurredAt: number;
  clientId: string;
  clientSeq: number;
  correlationId?: string;
  causationId?: string;
}

/** An event as read from the log, with data upcast to the current version. */
export interface RecordedEvent<TType extends string = string, TData = unknown> {
  readonly known: true;
  readonly id: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly seq: number;
  readonly type: TType;
  /** The version of `data` as returned (the current one after upcasting). */
  readonly version: number;
  /** The version the event was written with. */
  readonly storedVersion: number;
  readonly data: TData;
  readonly meta: EventMeta;
  /** Server-assigned global position; absent while the event is pending. */
  readonly position?: number;
}

/**
 * An event this app cannot read: its type is not defined here (a newer app
 * version's, or one this app no longer has), or it was stored at a version
 * newer than this app's definition of its type (`storedVersion` above it: a
 * newer app version wrote it, and there is no upcasting down). It is kept in
 * the log and surfaced on read as stored, so nothing is lost; reducers skip
 * it, and projections, reactions, snapshots and compaction wait for an app
 * that can read it rather than fold it (README, The model).
 */
export interface UnknownEvent {
  readonly known: false;
  readonly id: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly seq: number;
  readonly type: string;
  readonly version: number;
  readonly storedVersion: number;
  readonly data: unknown;
  readonly meta: EventMeta;
  readonly position?: number;
  /**
   * Why it is unreadable when this app does define its type and version but the upcast to the current
   * version failed (the upcaster's UPCAST error message; only from reads that ask for such events rather
   * than failing: scan's `upcastFailures: 'unreadable'`). Absent for a type or version this app does not define.
   */
  readonly upcastError?: string;
}

export type RecordedEventOf<TDefs extends readonly AnyEventDefinition[]> = {
  [K in keyof TDefs]: TDefs[K] extends EventDefinition<infer T, infer D, infer _I> ? RecordedEvent<T, D> : never;
}[number];

/** Any event read from the log: known (typed) or unknown. */
export type LogEvent<TDefs extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[]> = RecordedEventOf<TDefs> | UnknownEvent;

/**
 * The stored form of an event, exactly as kept in a log page and sent over the
 * sync protocol. Data is as written (not upcast).
 */
export interface StoredEvent {
  id: string;
  aggregateId: string;
  aggregateType: string;
  seq: number;
  type: string;
  version: number;
  data: unknown;
  meta: EventMeta;
  position?: number;
}

/**
 * A definition's functions by event type (an aggregate's reducers, a
 * projection's or reaction's handlers) as own properties of an object without
 * a prototype. They are looked up by the type an event read from the log
 * carries, which may be any string (another aggregate's event in the stream,
 * another build's, one from sync): on the object the app wrote, `toString` or
 * `constructor` would find Object.prototype's members and fold them as
 * reducers. The app's own members of those names stay. An entry that is
 * undefined is left out (a projection's handlers are optional).
 */
export function handlerTable<T>(given: object, what: string, role: 'reducer' | 'handler'): Readonly<Record<string, T>> {
  const table = Object.create(null) as Record<string, T>;
  for (const key of Object.keys(given)) {
    const handler = (given as Record<string, unknown>)[key];
    if (handler === undefined) continue;
    if (typeof handler !== 'function') throw new ConfigError(`${what}: the ${role} for ${showName(key)} is not a function`);
    table[key] = handler as T;
  }
  return table;
}

/** Copies made by withHandlerTable, per definition. */
const madeCopies = new WeakMap<object, object>();

/**
 * `definition` if its `key` (reducers or handlers) is a handlerTable's (no
 * prototype: its define function made it), else a copy of it whose `key` is
 * one, made once per definition. The engine reaches every definition through
 * this (aggregateRuntime, projectionRuntime, reactionRuntime), so that one
 * written as an object literal of a definition's shape is looked up as
 * safely as one its define function made.
 */
export function withHandlerTable<D extends object>(
  definition: D,
  key: 'reducers' | 'handlers',
  what: string,
  role: 'reducer' | 'handler',
): D {
  const given = ((definition as Record<string, unknown>)[key] ?? {}) as object;
  if (Object.getPrototypeOf(given) === null) return definition;
  let made = madeCopies.get(definition) as D | undefined;
  if (!made) {
    made = { ...definition, [key]: handlerTable(given, what, role) };
    madeCopies.set(definition, made);
  }
  return made;
}
