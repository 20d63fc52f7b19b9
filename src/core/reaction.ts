import { ConfigError } from './errors.ts';
import { handlerTable, withHandlerTable, type AnyEventDefinition, type EventTypeOf, type RecordedEventOf } from './event.ts';
import { findIdProblem, showName } from './text-rules.ts';

/** What a reaction's handler is told besides the event. */
export interface ReactionContext {
  /** The reaction's name. */
  readonly reaction: string;
  /**
   * The event id: hand it to the outside world as the idempotency key (a
   * payment provider's `Idempotency-Key`, a mail's message id), so that a
   * redelivered event cannot charge or send twice there either.
   */
  readonly idempotencyKey: string;
  /**
   * True when this reaction may have been handed this event before: the tab
   * crashed (or was closed) between the effect and its record, or an earlier
   * attempt failed. At most the one event in flight is ever delivered again.
   */
  readonly redelivery: boolean;
  /** 1 on the first try; one more after each failure. */
  readonly attempt: number;
  /**
   * True only for history delivered on purpose: events stored before a
   * reaction registered with `startFrom: 'beginning'` first started.
   */
  readonly isReplay: boolean;
}

/**
 * A handler returns nothing or a promise (any thenable), which is awaited:
 * the event is recorded as handled once it settles, and its value is ignored
 * (`(event, ctx) => psp.charge(...)` returning the provider's receipt is
 * fine). Other values are refused by the type on purpose: an array of
 * promises (`items.map(async ...)` without `Promise.all`) would be recorded
 * as handled before its charges finished, and their failures never retried.
 */
/** What a handler whose result is only waited for returns: nothing, or a promise (its value ignored). */
export type HandlerResult = void | PromiseLike<unknown>;

export type ReactionHandlers<TDefs extends readonly AnyEventDefinition[]> = {
  [T in EventTypeOf<TDefs>]?: (event: Extract<RecordedEventOf<TDefs>, { type: T }>, context: ReactionContext) => HandlerResult;
};

/** Failures retry after `initialMs`, doubling up to `maxMs`. */
export interface ReactionBackoff {
  initialMs: number;
  maxMs: number;
}

/**
 * A side effect run once per event (charge a card, print a receipt, send a
 * mail), in exactly one tab: see `defineReaction`.
 */
export interface ReactionDefinition<
  TName extends string = string,
  TDefs extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[],
> {
  readonly kind: 'reaction';
  readonly name: TName;
  readonly events: TDefs;
  readonly handlers: ReactionHandlers<TDefs>;
  /** 'local': as soon as an event is in this client's log; 'confirmed': once the server has confirmed it. */
  readonly on: 'local' | 'confirmed';
  /** 'own': only events this client appended; 'any': every client's events, on every client that runs it. */
  readonly origin: 'own' | 'any';
  /** 'now': events stored before the reaction first registered are not for it; 'beginning': they are, flagged isReplay. */
  readonly startFrom: 'now' | 'beginning';
  /** Attempts before an event is parked. */
  readonly maxAttempts: number;
  readonly backoff: ReactionBackoff;
}

export interface DefineReactionOptions<TName extends string, TDefs extends readonly AnyEventDefinition[]> {
  /** Unique per store: it names the reaction's checkpoint. */
  name: TName;
  events: TDefs;
  handlers: ReactionHandlers<TDefs>;
  /** Default 'local'. Use 'confirmed' for effects a server-side rejection or rebase must be able to stop. */
  on?: 'local' | 'confirmed' | undefined;
  /**
   * Default 'own': only the events this client appended, so that an order is
   * charged by the device that took it, once, however many devices sync the
   * log (a new device, or one whose site data was cleared, does not act on
   * the history it pulls). 'any': every client's events, on every client
   * that runs the reaction (a notification on each device, say).
   */
  origin?: 'own' | 'any' | undefined;
  /** Default 'now': a new reaction does not suddenly act on every old event. */
  startFrom?: 'now' | 'beginning' | undefined;
  /** Default 5. */
  maxAttempts?: number | undefined;
  /** Default { initialMs: 1000, maxMs: 60000 }. */
  backoff?: Partial<ReactionBackoff> | undefined;
}

const DEFAULT_BACKOFF: ReactionBackoff = { initialMs: 1000, maxMs: 60_000 };

/**
 * Defines a reaction: handlers for side effects, registered with
 * `openStore({ reactions: [...] })`.
 *
 * - It runs in one tab at a time (the leader, under a Web Lock; the next tab
 *   takes over when it closes), never in every tab like a projection.
 * - Each event is recorded as processed in the same IndexedDB transaction
 *   that moves the reaction's checkpoint; after a crash between an effect
 *   and its record, at most that one event comes again, with
 *   `context.redelivery` set. `context.idempotencyKey` (the event id) lets
 *   the outside world drop the repeat.
 * - A failing handler is retried with backoff; after `maxAttempts` the event
 *   is parked (`store.reactions.parked()`), and the reaction moves on.
 * - Replay jobs and projection rebuilds never call it.
 */
export function defineReaction<TName extends string, const TDefs extends readonly AnyEventDefinition[]>(
  options: DefineReactionOptions<TName, TDefs>,
): ReactionDefinition<TName, TDefs> {
  const what = `defineReaction(${showName(options?.name)})`;
  const problem = findIdProblem(options?.name);
  if (problem !== undefined) throw new ConfigError(`${what}: name ${problem}`);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new ConfigError(`${what}: maxAttempts must be a positive integer`);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (!(backoff.initialMs >= 0 && backoff.maxMs >= backoff.initialMs)) {
    throw new ConfigError(`${what}: backoff needs 0 <= initialMs <= maxMs`);
  }
  const on = options.on ?? 'local';
  if (on !== 'local' && on !== 'confirmed') throw new ConfigError(`${what}: on must be 'local' or 'confirmed'`);
  const origin = options.origin ?? 'own';
  if (origin !== 'own' && origin !== 'any') throw new ConfigError(`${what}: origin must be 'own' or 'any'`);
  const startFrom = options.startFrom ?? 'now';
  if (startFrom !== 'now' && startFrom !== 'beginning') throw new ConfigError(`${what}: startFrom must be 'now' or 'beginning'`);
  // Stricter than handlerTable, which skips an undefined handler as a projection may: a reaction whose handler
  // is undefined (a misspelt import) would pass its events by, and an order would never be charged.
  for (const [type, handler] of Object.entries(options.handlers ?? {})) {
    if (typeof handler !== 'function') throw new ConfigError(`${what}: the handler for ${type} is not a function`);
  }
  const { name, events } = options;
  const handlers = handlerTable(options.handlers ?? {}, what, 'handler') as ReactionHandlers<TDefs>;
  return { kind: 'reaction', name, events, handlers, on, origin, startFrom, maxAttempts, backoff };
}

/** The covariant parts every reaction definition shares. */
export interface AnyReactionDefinition {
  readonly kind: 'reaction';
  readonly name: string;
  readonly events: readonly AnyEventDefinition[];
  readonly on: 'local' | 'confirmed';
  readonly origin: 'own' | 'any';
  readonly startFrom: 'now' | 'beginning';
  readonly maxAttempts: number;
  readonly backoff: ReactionBackoff;
}

export interface ReactionRuntime extends AnyReactionDefinition {
  readonly handlers: Readonly<Record<string, ((event: unknown, context: ReactionContext) => HandlerResult) | undefined>>;
}

/** The definition as the engine runs it: its handlers a table of own members, as aggregateRuntime's reducers. */
export function reactionRuntime(definition: AnyReactionDefinition): ReactionRuntime {
  return withHandlerTable(definition as unknown as ReactionRuntime, 'handlers', `reaction ${showName(definition.name)}`, 'handler');
}

/** The pause before attempt `attempt + 1`, after `attempt` failures: doubling, capped, with up to 20 % jitter. */
export function backoffDelay(backoff: ReactionBackoff, failures: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.2 * random()));
}

/**
 * Whether a reaction is done with everything stored so far (handled, parked,
 * or not for it): its checkpoints reach the log's confirmed head and, for one
 * that acts on local events, the pending area's end, with no delivery in flight.
 */
export function reactionCaughtUp(
  record: { on: 'local' | 'confirmed'; confirmed: number; pendingLsn: number; inFlight: unknown },
  log: { confirmedHead: number; nextLsn: number } | undefined,
): boolean {
  const confirmedDone = record.confirmed >= (log?.confirmedHead ?? 0);
  const pendingDone = record.on === 'confirmed' || record.pendingLsn >= (log?.nextLsn ?? 0);
  return confirmedDone && pendingDone && record.inFlight === null;
}
