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
  if (typeof given !== 'object' || given === null) throw new TypeError('checkEvents must be { events?, aggregates? }');
  const { events = [], aggregates = [] } = given;
  if (!Array.isArray(events) || !events.every(isEventDefinition)) {
    throw new TypeError('checkEvents.events must be an array of event definitions (defineEvent)');
  }
  if (!Array.isArray(aggregates) || !aggregates.every((a) => Array.isArray(a?.events) && a.events.every(isEventDefinition))) {
    throw new TypeError('checkEvents.aggregates must be an array of aggregate definitions (defineAggregate)');
  }
  if (given.allowEncrypted !== undefined && typeof given.allowEncrypted !== 'boolean') {
    throw new TypeError('checkEvents.allowEncrypted must be true or false');
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

export async function checkPushData(
  check: DataCheck,
  store: Pick<LogStore, 'clientSeq'>,
  log: string,
  push: PushToCheck,
  timeoutMs: number,
): Promise<void> {
  /** The client's high-water mark, read at the first problem: events at or below it are stored already. */
  let applied: number | undefined;
  let sliceStart = performance.now();
  for (let index = 0; index < push.count; index++) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const event = push.eventAt(index);
    const problem = findDataProblem(check.registry, event, check.options);
    if (!problem) continue;
    applied ??= await withDeadline(store.clientSeq(log, push.clientId), timeoutMs, 'push');
    if (push.from + index > applied) throw refusal(push, index, event, problem);
    // Stored already, and so is every event up to the mark: the first one that may be refused comes after it.
    index = Math.max(index, applied - push.from);
  }
}

function refusal(push: PushToCheck, index: number, event: CheckedEvent, problem: DataProblem): SyncError {
  const clientSeq = push.from + index;
  return new SyncError(
    'INVALID_EVENT',
    `Event ${event.id} (clientSeq ${clientSeq}, ${event.type} version ${event.version}) does not fit the app's definition: ${problem.path}: ${problem.reason}`,
    {
      index,
      id: event.id,
      clientSeq,
      type: event.type,
      version: event.version,
      field: `events.${index}.${problem.path}`,
      reason: problem.reason,
    },
  );
}
