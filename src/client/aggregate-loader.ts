import { aggregateRuntime, type AnyAggregateDefinition } from '../core/aggregate.ts';
import type { LogEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import type { EngineConnection } from './connection.ts';
import { decodePage } from './log-events.ts';
import type { LoadResult, ReadStreamOptions } from './types.ts';

/** Pages fetched per engine call while reading a stream. */
const STREAM_PAGES_PER_CALL = 128;

/**
 * Reads one aggregate's events in seq order (or reverse), a batch of pages
 * per engine call, so a long stream is never held whole.
 */
export async function* readStream(
  connection: EngineConnection,
  registry: Registry,
  aggregateId: string,
  options: ReadStreamOptions = {},
): AsyncGenerator<LogEvent> {
  let from = options.fromSeq ?? 1;
  let to = options.toSeq ?? Infinity;
  while (from <= to) {
    const pages = await connection.engine.readStream({
      aggregateId,
      fromSeq: from,
      toSeq: to,
      maxPages: STREAM_PAGES_PER_CALL,
      backwards: options.backwards,
    });
    if (pages.length === 0) return;
    const events: LogEvent[] = [];
    for (const page of pages) {
      for (const { event } of decodePage(registry, page)) {
        if (event.aggregateId === aggregateId && event.seq >= from && event.seq <= to) events.push(event);
      }
    }
    events.sort((a, b) => (options.backwards ? b.seq - a.seq : a.seq - b.seq));
    if (events.length === 0) return;
    yield* events;
    const last = events[events.length - 1]!.seq;
    if (options.backwards) to = last - 1;
    else from = last + 1;
    if (pages.length < STREAM_PAGES_PER_CALL) {
      // Every page in range came back: nothing further exists in this direction.
      return;
    }
  }
}

let warnedSnapshot = false;

/**
 * State from the newest valid snapshot plus the events after it. A snapshot
 * of another aggregate type or reducer version is ignored (and, once enough
 * events were folded, replaced).
 */
export async function loadAggregate(
  connection: EngineConnection,
  registry: Registry,
  definition: AnyAggregateDefinition,
  aggregateId: string,
  options: { forceSnapshot?: boolean } = {},
): Promise<LoadResult<unknown>> {
  const aggregate = aggregateRuntime(definition);
  const snapshot = await connection.engine.getSnapshot(aggregateId);
  const usable =
    snapshot !== undefined && snapshot.aggregateType === aggregate.type && snapshot.reducerVersion === aggregate.version;
  let state: unknown = usable ? snapshot.state : aggregate.initialState();
  const snapshotVersion = usable ? snapshot.seq : 0;
  let version = snapshotVersion;
  let eventsApplied = 0;
  let unknownEvents = 0;
  for await (const event of readStream(connection, registry, aggregateId, { fromSeq: snapshotVersion + 1 })) {
    const reducer = event.known ? aggregate.reducers[event.type] : undefined;
    if (reducer) state = reducer(state, event);
    else unknownEvents++;
    version = event.seq;
    eventsApplied++;
  }
  const due = aggregate.snapshotEvery > 0 && eventsApplied >= aggregate.snapshotEvery;
  if ((due || options.forceSnapshot) && version > 0 && (eventsApplied > 0 || !usable)) {
    try {
      await connection.engine.putSnapshot({
        aggregateId,
        aggregateType: aggregate.type,
        reducerVersion: aggregate.version,
        seq: version,
        state,
        takenAt: Date.now(),
      });
    } catch (error) {
      // A state that cannot be cloned into IndexedDB only costs speed: loads still work.
      if (options.forceSnapshot) throw error;
      if (!warnedSnapshot) {
        warnedSnapshot = true;
        console.warn(`chronicle: could not store a snapshot of ${aggregate.type} (${String(error)}); loads replay instead`);
      }
    }
  }
  return { state, version, snapshotVersion, eventsApplied, unknownEvents };
}
