import { ConfigError } from '../../core/errors.ts';
import type { AnyAggregateDefinition } from '../../core/aggregate.ts';
import { findDataProblem, type CheckedEvent, type DataCheckOptions, type DataProblem } from '../../core/data-check.ts';
import type { AnyEventDefinition } from '../../core/event.ts';
import { createRegistry, type Registry } from '../../core/registry.ts';
import { SyncError } from '../errors.ts';
import type { LogStore } from '../store/types.ts';
import { withDeadline } from './deadline.ts';

/**
 * The app's data rules on a push (createSyncServer's `checkEvents`): an event
 * whose data the app's definitions refuse is refused with 422 INVALID_EVENT,
 * naming it, and nothing of the push is stored; the reference client then
 * rejects that event and pushes the rest (docs/protocol.md).
 *
 * Only events the push would store are refused. Events at or below the
 * client's high-water mark are stored already (a retry whose reply was lost,
 * perhaps stored before the server checked data, or by rules since made
 * stricter): they are acknowledged as always, since refusing them would make
 * the client report rejected an event the log holds. So when some event has a
 * problem, and only then, the mark is read (one query) to tell the two apart.
 * The store judges the push afterwards as before; a mark that moved meanwhile
 * only makes the refused event one a concurrent copy of the push stored,
 * which the client meets as its own event when it pulls (protocol.md, the
 * rebase contract).
 */

/** The app's definitions, as its stores open with them (createSyncServer's checkEvents). */
export interface CheckEventsOption {
  events?: readonly AnyEventDefinition[];
  aggregates?: readonly AnyAggregateDefinition[];
  /**
   * The app encrypts events (sync.encryption): data that is an encryption
   * envelope passes unchecked, since the server cannot read it. Default false:
   * such data is refused, since on devices of an app that does not encrypt it
   * would stop every pull.
   */
  allowEncrypted?: boolean;
}

/** What the server checks pushed data with: the definitions' registry and how it treats encrypted data. */
export interface DataCheck {
  registry: Registry;
  options: DataCheckOptions;
}

const isEventDefinition = (value: unknown): boolean => {
  const def = value as Partial<AnyEventDefinition> | null;
  return typeof def?.type === 'string' && typeof def.version === 'number' && typeof def.schema?.safeParse === 'function';
};

/**
 * The registry pushed data is checked against, made once at start-up: what is
 * not a list of definitions, and definitions that clash (one type defined
 * twice), fail here with a TypeError rather than at the first push.
 */
export function dataCheckOf(given: CheckEventsOption | undefined): DataCheck | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== 'object' || given === null) throw new ConfigError('checkEvents must be { events?, aggregates? }');
  const { events = [], aggregates = [] } = given;
  if (!Array.isArray(events) || !events.every(isEventDefinition)) {
    throw new ConfigError('checkEvents.events must be an array of event definitions (defineEvent)');
  }
  if (!Array.isArray(aggregates) || !aggregates.every((a) => Array.isArray(a?.events) && a.events.every(isEventDefinition))) {
    throw new ConfigError('checkEvents.aggregates must be an array of aggregate definitions (defineAggregate)');
  }
  if (given.allowEncrypted !== undefined && typeof given.allowEncrypted !== 'boolean') {
    throw new ConfigError('checkEvents.allowEncrypted must be true or false');
  }
  return { registry: createRegistry({ events, aggregates }), options: { allowEncrypted: given.allowEncrypted === true } };
}

/** A push as the check sees it: whose events, from which clientSeq, and each event on demand. */
export interface PushToCheck {
  clientId: string;
  from: number;
  count: number;
  eventAt(index: number): CheckedEvent;
}

/** How long the check runs the app's schemas before it lets other requests in (one event is never cut). */
const SLICE_MS = 10;
/** Refused events one reply lists at most; and the time spent finding more after the first, at most. */
const LISTED_EVENTS = 100;
const LISTING_MS = 50;

/** A refused event of the push, as `details.events` lists it. */
interface Refused {
  index: number;
  event: CheckedEvent;
  problem: DataProblem;
}

/**
 * Refuses the push (INVALID_EVENT) when one of the events it would store
 * fails the check. The reply names the first such event, and lists in
 * `details.events` every one it found (up to LISTED_EVENTS, looking for at
 * most LISTING_MS after the first): the client rejects them all at once, in
 * one renumbering of its queue instead of one per event.
 */
export async function checkPushData(
  check: DataCheck,
  store: Pick<LogStore, 'clientSeq'>,
  log: string,
  push: PushToCheck,
  timeoutMs: number,
): Promise<void> {
  /** The client's high-water mark, read at the first problem: events at or below it are stored already. */
  let applied: number | undefined;
  const refused: Refused[] = [];
  let firstRefusedAt = 0;
  let sliceStart = performance.now();
  for (let index = 0; index < push.count; index++) {
    const now = performance.now();
    if (refused.length > 0 && (refused.length >= LISTED_EVENTS || now - firstRefusedAt > LISTING_MS)) break;
    if (now - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const event = push.eventAt(index);
    const problem = findDataProblem(check.registry, event, check.options);
    if (!problem) continue;
    applied ??= await withDeadline(store.clientSeq(log, push.clientId), timeoutMs, 'push');
    if (push.from + index > applied) {
      if (refused.length === 0) firstRefusedAt = performance.now();
      refused.push({ index, event, problem });
      continue;
    }
    // Stored already, and so is every event up to the mark: the first one that may be refused comes after it.
    index = Math.max(index, applied - push.from);
  }
  if (refused.length > 0) throw refusal(push, refused);
}

function refusal(push: PushToCheck, refused: readonly Refused[]): SyncError {
  const listed = refused.map(({ index, event, problem }) => ({
    index,
    id: event.id,
    clientSeq: push.from + index,
    field: `events.${index}.${problem.path}`,
    reason: problem.reason,
  }));
  const { event } = refused[0]!;
  const first = listed[0]!;
  const others = refused.length > 1 ? ` (and ${refused.length - 1} more listed in details.events)` : '';
  return new SyncError(
    'INVALID_EVENT',
    `Event ${event.id} (clientSeq ${first.clientSeq}, ${event.type} version ${event.version}) does not fit the app's definition: ${refused[0]!.problem.path}: ${first.reason}${others}`,
    { ...first, type: event.type, version: event.version, events: listed },
  );
}
