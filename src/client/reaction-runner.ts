import { confirmedPositionOf, pendingStartOf, storedAfter } from '../core/cursor.ts';
import { TimeTravelError } from '../core/errors.ts';
import { backoffDelay, reactionRuntime, type AnyReactionDefinition, type ReactionContext } from '../core/reaction.ts';
import { describeThrown } from '../core/thrown.ts';
import type { ReactionAdvance, ReactionRecord } from '../../worker/contract.ts';
import type { StoreContext } from './context.ts';
import { decodeEvent, type PlacedEvent } from './log-events.ts';
import { scanLog } from './log-scan.ts';
import type { TimeTravelState } from './time-travel.ts';
import type { ReactionStatus } from './types.ts';

/** One reaction, run by the tab that leads the store's reactions. */
export interface ReactionRunner {
  /** Something was stored (or a retry asked for): look again. */
  wake(retry?: boolean): void;
  /** Lets the handler in flight finish and be recorded, then stops. */
  stop(): Promise<void>;
  /** Whether a handler of this reaction is running now. */
  handling(): boolean;
}

class Stopped extends Error {}

/** How a runner scans: events kept as stored (parking keeps them), and one whose upcast fails read as unreadable. */
const SCAN = { keepStored: true, upcastFailures: 'unreadable' } as const;

/** A reaction's event this app version cannot read (see UnknownEvent): the runner stops before it. */
class Unreadable extends Error {
  constructor(readonly event: PlacedEvent['event']) {
    super(`${event.type} v${event.storedVersion} is not readable by this app`);
  }
}

/** What a runner reports when it stops before an event it cannot read: what ReactionStatus shows. */
export type UnreadableStop = NonNullable<ReactionStatus['unreadable']>;

/** Waits `ms`, or rejects with Stopped as soon as `signal` aborts. */
function pauseUnless(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Stopped());
    };
    // The listener goes with its wait: a reaction that keeps failing must not pile one up per retry.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Writes what became of a handler call (done, failed, parked), again and again
 * with backoff until it is stored or `signal` aborts (then Stopped). The
 * handler is never called again for it meanwhile: with the disk full, a charge
 * that succeeded would otherwise be made again at each pass, and a failing one
 * tried past maxAttempts. A stop leaves the in-flight marker: the next session
 * hands the event over once more, flagged, as after a crash.
 */
async function persistUntilStored(
  backoff: Parameters<typeof backoffDelay>[0],
  signal: AbortSignal,
  write: () => Promise<unknown>,
): Promise<void> {
  for (let failures = 1; ; failures++) {
    try {
      await write();
      return;
    } catch {
      if (signal.aborted) throw new Stopped();
      await pauseUnless(signal, backoffDelay(backoff, failures));
    }
  }
}

/**
 * Whether the event was stored before the reaction first registered (history: isReplay). One of ours that was
 * pending then and confirmed since has a position past the confirmed head of then: its clientSeq tells.
 * (Not airtight: a server refusal of an event pending then renumbers the queue, and an event appended after
 * the registration may take a number below the mark. The cost is an isReplay flag on a new event, for
 * 'beginning' reactions only, which asked for history; the alternative, a record per pending id, would be
 * read as "handled" by older builds' tabs.)
 */
function storedBefore(placed: PlacedEvent, clientId: string, end: NonNullable<ReactionRecord['historyEnd']>): boolean {
  const { event, cursor } = placed;
  if (!storedAfter(cursor, event.position, end)) return true;
  return end.nextClientSeq !== undefined && event.meta.clientId === clientId && event.meta.clientSeq < end.nextClientSeq;
}

/**
 * Calls a reaction's handler with the store at the head of the log. While
 * this tab travels in time (devtools), load() shows the past and append()
 * refuses: a handler would charge from a past state, or fail for no fault of
 * its own. So handlers wait until the tab is back at the head, and one that
 * failed with TimeTravelError (the travel began while it ran) is called again
 * then, flagged as a redelivery (it may have had effects before its append
 * was refused), without counting an attempt. Stopped if the runner stops
 * while it waits. `busy.handlers` counts the calls running (see handling()).
 */
async function handleAtHead(
  handler: (event: unknown, context: ReactionContext) => unknown,
  event: PlacedEvent['event'],
  context: ReactionContext,
  { travel, stopping, busy }: { travel: TimeTravelState; stopping: AbortSignal; busy: { handlers: number } },
): Promise<void> {
  for (let interrupted = false; ; interrupted = true) {
    // Only a wait can be cut short: a handler about to run when close() began still runs and is recorded
    // (a clean close hands nothing out twice).
    if (travel.horizon() !== null) {
      await travel.atHead(stopping);
      if (stopping.aborted) throw new Stopped();
    }
    busy.handlers++;
    try {
      await handler(event, interrupted ? { ...context, redelivery: true } : context);
      return;
    } catch (error) {
      if (!(error instanceof TimeTravelError)) throw error;
    } finally {
      busy.handlers--;
    }
  }
}

/**
 * Tries once more each parked event of reaction `name` a retry was asked for
 * (reactions.retry), with `handle`, and records how it went. Stopped when
 * `stopping` aborts.
 */
async function retryParkedEvents(
  { connection: { engine }, registry }: StoreContext,
  name: string,
  backoff: Parameters<typeof backoffDelay>[0],
  stopping: AbortSignal,
  handle: (event: PlacedEvent['event'], attempt: number) => Promise<void>,
): Promise<void> {
  for (const parked of await engine.parkedReactions(name)) {
    if (stopping.aborted) throw new Stopped();
    if (!parked.retry) continue;
    const event = decodeEvent(registry, parked.event, true, 'unreadable');
    // Parked by a newer app version, in a shape this one cannot read: the retry stays asked for, and the tab of
    // a newer build that leads the reaction next makes it. This tab goes on with the rest meanwhile: a parked
    // event holds nothing up (README, Reactions).
    if (!event.known) continue;
    // Skipped meanwhile (the list above was read before): its handler must not run. Marked running otherwise,
    // so that a skip is refused until the try has finished.
    if (!(await engine.startRetry(name, event.id))) continue;
    let failure: string | null = null;
    try {
      await handle(event, parked.attempts + 1);
    } catch (error) {
      // Stopped before the handler ran (this tab was travelling in time): the retry stays asked for.
      if (error instanceof Stopped) throw error;
      failure = describeThrown(error);
    }
    await persistUntilStored(backoff, stopping, () => engine.finishRetry(name, event.id, failure));
  }
}

/**
 * Delivers each event of the reaction's types once, in log order: confirmed
 * events by position, then (for `on: 'local'`) pending ones. Own events that
 * were handled while pending are found in the processed records and not
 * handled again when the server confirms them.
 *
 * Per event: the in-flight marker is written before the handler runs (or was
 * written by the previous event's record), and the processed record, the
 * checkpoint and the next marker are written in one transaction after it
 * succeeds. A crash in between leaves the marker: the next leader delivers
 * that event again with `redelivery`, and only that event.
 *
 * Looked up: every event a scan finds is checked against the processed
 * records, another client's confirmed ones too. importLog stores another
 * device's pending events as pending here (their clientIds kept); an 'any'
 * reaction handles them, and the pull that later brings them confirmed would
 * otherwise hand them over again (test/engine/reaction-audit.test.ts). It is
 * one read per event the reaction is about to handle anyway.
 *
 * The pending checkpoint: the log's nextLsn is read before the pending scan;
 * every pending page below it is stored already (none is ever added below
 * nextLsn), so a whole scan has seen it, or it left the pending area for the
 * confirmed one (the confirmed scan has it). The checkpoint then moves there:
 * pending events all confirmed before the reaction reached them (the scan
 * finds no page) left it behind for good before, status() never caughtUp and
 * deleteStore naming the reaction as unfinished work.
 */
export function createReactionRunner(
  ctx: StoreContext,
  definition: AnyReactionDefinition,
  /** Called once the runner stopped before an event it cannot read, and gave the reaction's lock away. */
  onUnreadable: (stop: UnreadableStop) => void,
): ReactionRunner {
  const { connection, registry, clientId } = ctx;
  const engine = connection.engine;
  const reaction = reactionRuntime(definition);
  const { name } = reaction;
  const types = Object.keys(reaction.handlers).filter((type) => typeof reaction.handlers[type] === 'function');
  let stopped = false;
  let dirty = true;
  let retryAsked = true;
  let wakeUp: (() => void) | undefined;
  const stopping = new AbortController();
  let record: ReactionRecord;
  /** The marker this session wrote for an event it has not handed out yet: no redelivery. */
  let markedAhead: string | null = null;

  const pause = (ms: number) => pauseUnless(stopping.signal, ms);
  /** Handlers of this reaction running now (one at most: events are handed over one by one). */
  const busy = { handlers: 0 };

  const handle = async (event: PlacedEvent['event'], context: ReactionContext) => {
    const handler = reaction.handlers[event.type];
    if (handler) await handleAtHead(handler, event, context, { travel: ctx.travel, stopping: stopping.signal, busy });
  };

  const deliver = async (placed: PlacedEvent, advance: ReactionAdvance, next: string | null): Promise<void> => {
    const { event } = placed;
    const marker = record.inFlight?.eventId === event.id ? record.inFlight : null;
    let attempts = marker?.attempts ?? 0;
    // In flight at a crash: its marker names it, or a delivery since took the marker and listed it as interrupted.
    const seenBefore = (marker !== null && markedAhead !== event.id) || (record.interrupted?.includes(event.id) ?? false);
    if (!marker) record.interrupted = await engine.markReactionInFlight(name, event.id);
    markedAhead = null;
    const isReplay = record.historyEnd !== null && storedBefore(placed, clientId, record.historyEnd);
    for (;;) {
      try {
        await handle(event, {
          reaction: name,
          idempotencyKey: event.id,
          redelivery: seenBefore || attempts > 0,
          attempt: attempts + 1,
          isReplay,
        });
      } catch (error) {
        // Stopped while waiting for this tab to travel back: the marker stays, as for any stop before a handler ends.
        if (error instanceof Stopped) throw error;
        attempts++;
        const why = describeThrown(error);
        if (attempts >= reaction.maxAttempts) {
          await persistUntilStored(reaction.backoff, stopping.signal, () =>
            engine.parkReaction(name, placed.stored, attempts, why, advance, next),
          );
          break;
        }
        await persistUntilStored(reaction.backoff, stopping.signal, () => engine.noteReactionFailure(name, event.id, attempts, why));
        record.inFlight = { eventId: event.id, attempts, lastError: why };
        await pause(backoffDelay(reaction.backoff, attempts));
        continue;
      }
      await persistUntilStored(reaction.backoff, stopping.signal, () => engine.recordReactionDone(name, event.id, advance, next));
      break;
    }
    if (advance.confirmed !== undefined) record.confirmed = Math.max(record.confirmed, advance.confirmed);
    if (advance.pendingLsn !== undefined) record.pendingLsn = Math.max(record.pendingLsn, advance.pendingLsn);
    if (record.interrupted) record.interrupted = record.interrupted.filter((id) => id !== event.id);
    record.inFlight = next === null ? null : { eventId: next, attempts: 0, lastError: null };
    markedAhead = next;
  };

  /** Delivers the events of one scan batch the reaction has not finished with. */
  const deliverBatch = async (found: PlacedEvent[], advanceOf: (p: PlacedEvent) => ReactionAdvance) => {
    // origin 'own': other clients' events are not for it (the checkpoint moves past them with the batch).
    const matches = reaction.origin === 'own' ? found.filter((p) => p.event.meta.clientId === clientId) : found;
    // Every match is looked up, other clients' confirmed events too (see "Looked up" above createReactionRunner).
    const ask = matches.map((p) => p.event.id);
    const done = new Set(ask.length > 0 ? await engine.reactionProcessed(name, ask) : []);
    const todo = matches.filter((p) => !done.has(p.event.id));
    // An event of the reaction's types stored at a version this app does not define (a newer app version
    // wrote it), or one whose upcast fails, is never handed to a handler written for another shape, nor
    // passed by the checkpoint: the runner stops before it (after the events ahead of it), and a tab of a
    // build that can read it takes over.
    const unreadable = todo.findIndex((p) => !p.event.known);
    const deliverable = unreadable < 0 ? todo : todo.slice(0, unreadable);
    for (let i = 0; i < deliverable.length; i++) {
      if (stopped) throw new Stopped();
      await deliver(deliverable[i]!, advanceOf(deliverable[i]!), deliverable[i + 1]?.event.id ?? null);
    }
    if (unreadable >= 0) throw new Unreadable(todo[unreadable]!.event);
  };

  /**
   * Gives the reaction up in this tab: the checkpoint stays before `event`,
   * and the lock goes to the next tab waiting (or the next one that opens).
   */
  const resign = async ({ event }: Unreadable) => {
    // Nothing was handed out after the last recorded event: no marker may say otherwise.
    if (markedAhead !== null) await engine.clearReactionInFlight(name, markedAhead).catch(() => undefined);
    markedAhead = null;
    stopped = true;
    onUnreadable({ eventId: event.id, type: event.type, storedVersion: event.storedVersion });
    await engine.resignReaction(name);
  };

  const retryParked = () =>
    retryParkedEvents(ctx, name, reaction.backoff, stopping.signal, (event, attempt) =>
      handle(event, { reaction: name, idempotencyKey: event.id, redelivery: true, attempt, isReplay: false }),
    );

  const moveCheckpoint = async (key: 'confirmed' | 'pendingLsn', to: number) => {
    if (to <= record[key]) return; // past events done with or not for the reaction: only forward
    await engine.advanceReaction(name, { [key]: to });
    record[key] = to;
  };

  const pass = async () => {
    // Absent, or forgotten (store.forget() in another tab between this tab's registration and its lock): start as new, from now.
    const stored = await engine.getReaction(name);
    record =
      stored && stored.forgottenAt === undefined
        ? stored
        : await engine.initReaction({ name, on: reaction.on, startFrom: reaction.startFrom });
    if (retryAsked) {
      retryAsked = false;
      await retryParked();
    }
    // A reaction started from the beginning after compaction begins at the start of local history (README, Compaction).
    const confirmed = { status: 'confirmed', fromPosition: record.confirmed + 1, types } as const;
    for await (const batch of scanLog(connection, registry, confirmed, { ...SCAN, history: 'kept' })) {
      await deliverBatch(batch.matches, (p) => ({ confirmed: p.event.position ?? confirmedPositionOf(p.cursor) }));
      await moveCheckpoint('confirmed', confirmedPositionOf(batch.last));
    }
    if (reaction.on !== 'local') return;
    const { nextLsn } = await engine.logEnd(); // see "The pending checkpoint" above createReactionRunner
    const after = pendingStartOf({ confirmedHead: 0, nextLsn: record.pendingLsn });
    for await (const batch of scanLog(connection, registry, { status: 'pending', after, types }, SCAN)) {
      await deliverBatch(batch.matches, (p) => ({ pendingLsn: p.cursor.page }));
      // Pages are read whole: every event up to the batch's last page is done with.
      await moveCheckpoint('pendingLsn', batch.last.page + 1);
    }
    await moveCheckpoint('pendingLsn', nextLsn);
  };

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      dirty = false;
      try {
        await pass();
        failures = 0;
      } catch (error) {
        if (error instanceof Unreadable && !stopped) {
          await resign(error).catch(() => undefined);
          return;
        }
        if (stopped || error instanceof Stopped) return;
        // Storage trouble (not a handler's: those are retried per event). Try again after a pause.
        failures++;
        dirty = true;
        await pause(backoffDelay(reaction.backoff, failures)).catch(() => undefined);
        continue;
      }
      if (!dirty && !stopped) await new Promise<void>((resolve) => (wakeUp = resolve));
      wakeUp = undefined;
    }
  };
  const running = loop();

  return {
    handling: () => busy.handlers > 0,
    wake(retry = false) {
      dirty = true;
      if (retry) retryAsked = true;
      wakeUp?.();
    },
    async stop() {
      stopped = true;
      stopping.abort();
      wakeUp?.();
      await running;
      // A clean stop hands nothing out twice: drop the marker written ahead for an event not handed out.
      if (markedAhead !== null) await engine.clearReactionInFlight(name, markedAhead).catch(() => undefined);
    },
  };
}
