import { DuplicateInBatchError, ValidationError, type ExpectedVersion } from '../core/errors.ts';
import type { EventInput, LogEvent, StoredEvent } from '../core/event.ts';
import { findJsonProblem } from '../core/json-data.ts';
import type { Registry } from '../core/registry.ts';
import { findIdProblem, MAX_DATA_DEPTH } from '../core/text-rules.ts';
import { decodePageJson, spliceEventJson, type AppendOutcome, type AppendRequest } from '../../worker/contract.ts';
import { checkDefinition, checkOptionsObject, describeArgument } from './argument-checks.ts';
import type { StoreContext } from './context.ts';
import type { Store, StoreEvent } from './store-api.ts';
import type { AppendOptions, AppendResult, InputOf } from './types.ts';

export function checkAggregateId(aggregateId: unknown): asserts aggregateId is string {
  // The same rule the server applies (core/text-rules.ts): an id it would refuse never enters the log.
  const problem = findIdProblem(aggregateId);
  if (problem !== undefined) throw new ValidationError('?', 'aggregateId', problem);
}

function checkExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'any' || expected === 'no-stream') return;
  // A version counts a stream's events: above 2^53 - 1 it is no exact number, so no stream is ever at it.
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  throw new ValidationError(
    '?',
    'expectedVersion',
    `must be 'any', 'no-stream' or a version (a non-negative safe integer) (got ${describeArgument(expected)})`,
  );
}

/**
 * Each event an object with a string type, checked before anything looks its type up: the aggregate's and the
 * registry's lookups would take `null` or `{ type: 5 }` for an event of an unknown type ("undefined", "5").
 */
function checkEventShapes(inputs: readonly unknown[]): void {
  inputs.forEach((input, index) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ValidationError('?', `events[${index}]`, `not an event object { type, data } (got ${describeArgument(input)})`, index);
    }
    const type = (input as { type?: unknown }).type;
    if (typeof type !== 'string') {
      throw new ValidationError('?', 'type', `must be a string, the event's type (got ${describeArgument(type)})`, index);
    }
  });
}

/** The stored form of a call's events: sent back when some were stored before, else rebuilt from what was sent. */
function storedEventsOf(request: AppendRequest, outcome: AppendOutcome): StoredEvent[] {
  if (outcome.eventsJson !== undefined) return decodePageJson(outcome.eventsJson);
  const aggregateIdJson = JSON.stringify(request.aggregateId);
  const aggregateTypeJson = JSON.stringify(request.aggregateType);
  const clientIdJson = JSON.stringify(outcome.clientId);
  const rows = request.events.map((event, i) =>
    spliceEventJson(event, aggregateIdJson, aggregateTypeJson, outcome.firstSeq + i, clientIdJson, outcome.firstClientSeq + i),
  );
  return decodePageJson(`[${rows.join(',')}]`);
}

/** The result of a call; its events are decoded when first asked for (most callers only want the version). */
function toResult(registry: Registry, request: AppendRequest, outcome: AppendOutcome): AppendResult {
  let events: LogEvent[] | undefined;
  return {
    get events() {
      events ??= storedEventsOf(request, outcome).map((e) => registry.decodeInPlace(e));
      return events;
    },
    nextExpectedVersion: outcome.nextExpectedVersion,
    createdNewStream: outcome.createdNewStream,
    duplicates: outcome.duplicates,
  };
}

/** Per aggregate definition, the event types it declares (an appendBatch names the same aggregate in hundreds of entries). */
const declaredTypes = new WeakMap<NonNullable<AppendOptions['aggregate']>, ReadonlySet<string>>();
function eventTypesOf(aggregate: NonNullable<AppendOptions['aggregate']>): ReadonlySet<string> {
  let types = declaredTypes.get(aggregate);
  if (!types) {
    types = new Set(aggregate.events.map((d) => d.type));
    declaredTypes.set(aggregate, types);
  }
  return types;
}

/** Validates and encodes one stream's events into an engine request; throws before anything is sent. */
export function buildRequest(
  registry: Registry,
  aggregateId: string,
  events: InputOf<unknown>[] | unknown,
  opts: AppendOptions = {},
): AppendRequest {
  checkAggregateId(aggregateId);
  checkOptionsObject(opts, 'options');
  // Only a missing option means 'any': a null (a version read from state that was not loaded, or from JSON)
  // would turn the concurrency check off without a word, and an order could be placed twice.
  const expectedVersion = opts.expectedVersion === undefined ? 'any' : opts.expectedVersion;
  checkExpectedVersion(expectedVersion);
  if (!Array.isArray(events)) throw new ValidationError('?', 'events', 'events must be an array');
  checkEventShapes(events);
  const inputs = events as EventInput[];
  let aggregateType: string;
  if (opts.aggregate !== undefined) checkDefinition(opts.aggregate, 'aggregate'); // 5 or {} read as no aggregate, or failed inside
  if (opts.aggregate) {
    aggregateType = opts.aggregate.type;
    const allowed = eventTypesOf(opts.aggregate);
    inputs.forEach((input, index) => {
      if (!allowed.has(input?.type)) {
        throw new ValidationError(String(input?.type), 'type', `not an event of aggregate ${aggregateType}`, index);
      }
    });
  } else if (inputs.length === 0 && opts.aggregateType === undefined) {
    // Nothing to store, so no aggregate to name: the call only reads the stream's version (and checks expectedVersion).
    aggregateType = '';
  } else {
    aggregateType = registry.resolveAggregateType(inputs, opts.aggregateType);
  }
  // Given the stream, encode counts each event's size exactly as the server will.
  return { aggregateId, aggregateType, expectedVersion, events: registry.encode(inputs, undefined, { aggregateId, aggregateType }) };
}

/**
 * One call, one event per id: the same id in two entries of a batch is a mistake, not a retry.
 * Ids made by Chronicle (UUIDv7, strictly increasing) are new by construction: only given ones are compared.
 */
export function checkBatchIds(requests: readonly AppendRequest[]): void {
  const ids = new Set<string>();
  for (const request of requests) {
    for (const event of request.events) {
      if (event.generated) continue;
      if (ids.has(event.id)) throw new DuplicateInBatchError(event.id);
      ids.add(event.id);
    }
  }
}

/**
 * importConfirmed's events given as objects: plain JSON values, as a page the server sent holds. A function or
 * a symbol in one could not be sent to the engine's worker (a DataCloneError), and in-process was dropped
 * without a word; the engine's own checks judge the rest (ids, seqs, positions). A string goes as it is.
 */
function checkImportedValues(events: unknown): void {
  if (typeof events === 'string') return;
  if (!Array.isArray(events))
    throw new ValidationError('?', 'events', `must be an array of events or their JSON text (got ${describeArgument(events)})`);
  events.forEach((event, index) => {
    // One level more than data may have: the event object holds the data.
    const problem = findJsonProblem(event, MAX_DATA_DEPTH + 1);
    if (!problem) return;
    // Named as the engine's own checks name an event's fields (`id`, `data.note`), with the event's index.
    throw new ValidationError('?', problem.path === '' ? 'event' : problem.path, problem.reason, index);
  });
}

/** The store's writes: append, appendBatch and importConfirmed. */
export function createAppender(ctx: StoreContext): Pick<Store, 'append' | 'appendBatch' | 'importConfirmed'> {
  const { registry, travel } = ctx;
  const engine = ctx.connection.engine;
  return {
    async append(aggregateId, events, opts) {
      travel.assertWritable();
      const request = buildRequest(registry, aggregateId, events, opts);
      return toResult(registry, request, await engine.append(request)) as AppendResult<StoreEvent<unknown>>;
    },
    async appendBatch(entries) {
      travel.assertWritable();
      if (!Array.isArray(entries)) throw new ValidationError('?', 'entries', 'appendBatch expects an array');
      const requests = entries.map((entry: unknown, index) => {
        if (typeof entry !== 'object' || entry === null) {
          throw new ValidationError('?', `entries[${index}]`, 'must be { aggregateId, events, options? }');
        }
        const { aggregateId, events, options } = entry as (typeof entries)[number];
        return buildRequest(registry, aggregateId, events, options);
      });
      checkBatchIds(requests);
      const outcomes = await engine.appendBatch(requests);
      return outcomes.map((o, i) => toResult(registry, requests[i]!, o)) as AppendResult<StoreEvent<unknown>>[];
    },
    async importConfirmed(events) {
      checkImportedValues(events);
      const result = await engine.ingestConfirmed(events);
      return { stored: result.stored, head: result.head };
    },
  };
}
