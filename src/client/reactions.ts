import { ConfigError } from '../core/errors.ts';
import type { AnyReactionDefinition } from '../core/reaction.ts';
import { checkStringArgument } from './argument-checks.ts';
import type { StoreContext } from './context.ts';
import { decodeEvent } from './log-events.ts';
import { createReactionRunner, type ReactionRunner, type UnreadableStop } from './reaction-runner.ts';
import type { ParkedEvent, ReactionsHandle } from './types.ts';

export interface Reactions {
  readonly api: ReactionsHandle;
  /** Stops the runners (the handler in flight finishes and is recorded). The engine's close lets the lock go. */
  stop(): Promise<void>;
  /** Whether this store registers a reaction of that name (openStore's `reactions`). */
  registers(name: string): boolean;
  /** Whether a handler runs in this tab now (close() lets it finish, with the store's calls it makes). */
  handling(): boolean;
}

/** openStore's `reactions`, checked before anything opens: each made with defineReaction, names unique. */
export function checkReactionDefinitions(definitions: readonly AnyReactionDefinition[]): void {
  const names = new Set<string>();
  for (const definition of definitions) {
    if (definition?.kind !== 'reaction') throw new ConfigError('openStore reactions must be made with defineReaction');
    if (names.has(definition.name)) throw new ConfigError(`Two reactions are named "${definition.name}"`, { reaction: definition.name });
    names.add(definition.name);
  }
}

/**
 * The store's reactions (checked by openStore: checkReactionDefinitions). Every tab registers them (a new reaction's
 * checkpoint starts when the first tab that knows it opens) and asks the
 * engine for each reaction's lock; the one tab holding a reaction's lock runs
 * it, until it closes or dies and the next tab waiting takes over.
 */
export async function createReactions(ctx: StoreContext, definitions: readonly AnyReactionDefinition[]): Promise<Reactions> {
  const { connection, registry, hub } = ctx;
  const engine = connection.engine;
  for (const definition of definitions) {
    await engine.initReaction({ name: definition.name, on: definition.on, startFrom: definition.startFrom });
  }
  let stopped = false;
  /** The reactions this tab runs: each has its own lock, so tabs may share the work. */
  const runners = new Map<string, ReactionRunner>();
  const names = new Set(definitions.map((definition) => definition.name));
  /** `name` when this store was opened with that reaction; ConfigError otherwise. */
  const registered = (name: string): string => {
    if (!names.has(name)) throw new ConfigError(`Reaction "${name}" is not registered with this store`, { reaction: name });
    return name;
  };
  /** retry's and skip's arguments: two strings (each is a key of the parked list), the reaction one this store has. */
  const parkedEvent = (reaction: unknown, eventId: unknown): [string, string] => {
    checkStringArgument(reaction, 'reaction');
    checkStringArgument(eventId, 'eventId');
    return [registered(reaction), eventId];
  };
  /** The reactions this tab gave up, and the event each stopped before (a newer app version's: see reaction-runner.ts). */
  const unreadable = new Map<string, UnreadableStop>();
  /** How this tab starts running each reaction once it holds its lock. */
  const leads = new Map<string, () => void>();
  /**
   * A tab that gave a reaction up asks for its lock again once the event it
   * could not read is done with (handled, parked or skipped by a newer tab):
   * the reaction may hold more for it to do (its own orders), and no tab runs
   * it once the newer one closes. Until then it does not ask: two old tabs
   * would pass the lock to each other for ever.
   */
  const leadAgainIfDone = async (name: string): Promise<void> => {
    const stop = unreadable.get(name);
    const lead = leads.get(name);
    if (!stop || !lead || stopped) return;
    const done = (await engine.reactionProcessed(name, [stop.eventId])).length > 0;
    if (!done || stopped || unreadable.get(name) !== stop) return;
    unreadable.delete(name);
    await engine.leadReaction(name, connection.callable(lead));
  };
  const stopWatch = hub.watch((change) => {
    if (change.kind === 'appended' || change.kind === 'confirmed') for (const runner of runners.values()) runner.wake();
    if (change.kind === 'reactions' && change.retry) runners.get(change.name)?.wake(true);
    if (change.kind === 'reactions' && unreadable.has(change.name)) leadAgainIfDone(change.name).catch(() => undefined);
  });
  for (const definition of definitions) {
    const lead = () => {
      if (stopped || runners.has(definition.name)) return;
      const runner = createReactionRunner(ctx, definition, (stop) => {
        runners.delete(definition.name);
        unreadable.set(definition.name, stop);
      });
      runners.set(definition.name, runner);
    };
    leads.set(definition.name, lead);
    await engine.leadReaction(definition.name, connection.callable(lead));
  }

  const api: ReactionsHandle = {
    async status() {
      const statuses = await engine.reactionStatus();
      return statuses.map(({ record, parked, caughtUp }) => ({
        name: record.name,
        on: record.on,
        leader: runners.has(record.name),
        caughtUp,
        confirmedThrough: record.confirmed,
        inFlight: record.inFlight,
        parked,
        updatedAt: record.updatedAt,
        unreadable: unreadable.get(record.name) ?? null,
      }));
    },
    async parked(reaction) {
      if (reaction !== undefined) checkStringArgument(reaction, 'reaction');
      const records = await engine.parkedReactions(reaction);
      return records.map((p): ParkedEvent => ({
        reaction: p.reaction,
        eventId: p.eventId,
        // One whose upcast fails is listed as unreadable (known: false), not as a failure of the whole list.
        event: decodeEvent(registry, p.event, true, 'unreadable'),
        attempts: p.attempts,
        lastError: p.lastError,
        parkedAt: p.parkedAt,
        retryRequested: p.retry,
      }));
    },
    // Only a reaction this store runs: a retry asked for where no tab runs it would wait for good.
    retry: async (reaction, eventId) => engine.retryParked(...parkedEvent(reaction, eventId)),
    skip: async (reaction, eventId) => engine.skipParked(...parkedEvent(reaction, eventId)),
    subscribe(listener) {
      return hub.watch((change) => {
        if (change.kind === 'reactions') listener();
      });
    },
  };
  return {
    api,
    registers: (name) => names.has(name),
    handling: () => [...runners.values()].some((runner) => runner.handling()),
    async stop() {
      stopped = true;
      stopWatch();
      await Promise.all([...runners.values()].map((runner) => runner.stop()));
    },
  };
}
