import type { AnyAggregateDefinition } from '../../core/aggregate.ts';
import { findDataProblem, type CheckedEvent, type DataProblem } from '../../core/data-check.ts';
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
export function dataCheckOf(given: CheckEventsOption | undefined): Registry | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== 'object' || given === null) throw new TypeError('checkEvents must be { events?, aggregates? }');
  const { events = [], aggregates = [] } = given;
  if (!Array.isArray(events) || !events.every(isEventDefinition)) {
    throw new TypeError('checkEvents.events must be an array of event definitions (defineEvent)');
  }
  if (!Array.isArray(aggregates) || !aggregates.every((a) => Array.isArray(a?.events) && a.events.every(isEventDefinition))) {
    throw new TypeError('checkEvents.aggregates must be an array of aggregate definitions (defineAggregate)');
  }
  return createRegistry({ events, aggregates });
}

/** A push as the check sees it: whose events, from which clientSeq, and each event on demand. */
export interface PushToCheck {
  clientId: string;
  from: number;
  count: number;
  eventAt(index: number): CheckedEvent;
}

export async function checkPushData(
  registry: Registry,
  store: Pick<LogStore, 'clientSeq'>,
  log: string,
  push: PushToCheck,
  timeoutMs: number,
): Promise<void> {
  const problems: { index: number; event: CheckedEvent; problem: DataProblem }[] = [];
  for (let index = 0; index < push.count; index++) {
    const event = push.eventAt(index);
    const problem = findDataProblem(registry, event);
    if (problem) problems.push({ index, event, problem });
  }
  if (problems.length === 0) return;
  const applied = await withDeadline(store.clientSeq(log, push.clientId), timeoutMs, 'push');
  const refused = problems.find(({ index }) => push.from + index > applied);
  if (!refused) return;
  const { index, event, problem } = refused;
  const clientSeq = push.from + index;
  throw new SyncError(
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
