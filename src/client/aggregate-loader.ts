import { aggregateRuntime, type AggregateRuntime, type AnyAggregateDefinition } from '../core/aggregate.ts';
import { HistoryCompactedError, StoreClosedError, type UnserializableDataError } from '../core/errors.ts';
import { confirmedPositionOf } from '../core/cursor.ts';
import { findJsonProblem } from '../core/json-data.ts';
import { checkState, cloneFailure, unstorableState } from './state-check.ts';
import type { LogEvent, StoredEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import type { EngineConnection } from './connection.ts';
import { decodePage, isAfter, type PlacedEvent, type UpcastFailures } from './log-events.ts';
import type { LogCursor, SnapshotRecord } from '../../worker/contract.ts';
import type { LoadResult, ReadStreamOptions } from './types.ts';
import { SLICE_MS, yieldTask } from './yield-task.ts';

/** Pages fetched per engine call while reading a stream. */
const STREAM_PAGES_PER_CALL = 128;
/** The same for folds that inspect (foldFromScratch): fewer, so one call's decoding is a short task. */
const INSPECT_PAGES_PER_CALL = 2;

/** The store's readStream options, and what the store's own readers may add: how an upcast that fails is read. */
export interface StreamReadOptions extends ReadStreamOptions {
  upcastFailures?: UpcastFailures;
  /** Pages per engine call (default STREAM_PAGES_PER_CALL): a call's pages are decoded in one go on this thread. */
  pagesPerCall?: number;
}

/**
 * Reads one aggregate's events in seq order (or reverse), a batch of pages
 * per engine call, so a long stream is never held whole.
 */
export async function* readStream(
  connection: EngineConnection,
  registry: Registry,
  aggregateId: string,
  options: StreamReadOptions = {},
): AsyncGenerator<LogEvent> {
  for await (const placed of readStreamPlaced(connection, registry, aggregateId, options)) yield placed.event;
}

/** readStream, with each event's place in the log (for time travel). */
export async function* readStreamPlaced(
  connection: EngineConnection,
  registry: Registry,
  aggregateId: string,
  options: StreamReadOptions = {},
): AsyncGenerator<PlacedEvent> {
  let from = options.fromSeq ?? 1;
  let to = options.toSeq ?? Infinity;
  const pagesPerCall = options.pagesPerCall ?? STREAM_PAGES_PER_CALL;
  // Without a fromSeq, the stream is what is kept (compaction may have dropped its first events);
  // a fromSeq that was dropped is HistoryCompactedError. Only the first call may start at the kept
  // part: a later call must be exact, or events compaction dropped between calls would be skipped.
  let keptOnly = options.fromSeq === undefined;
  if (keptOnly && options.backwards) {
    // Backwards, the first call reads the end: where the kept part starts is fixed now, and every call is exact.
    const { base } = await connection.engine.readSnapshotAndTail(aggregateId, 0);
    from = (base?.seq ?? 0) + 1;
    keptOnly = false;
    if (base && to <= base.seq) {
      // All of the range lies in what compaction dropped: an empty answer would be a different one.
      const { historyStartsAt } = await connection.engine.stats();
      throw new HistoryCompactedError('stream', historyStartsAt, { aggregateId, toSeq: to, firstKeptSeq: base.seq + 1 });
    }
  }
  while (from <= to) {
    const pages = await connection.engine.readStream({
      aggregateId,
      fromSeq: from,
      toSeq: to,
      maxPages: pagesPerCall,
      backwards: options.backwards,
      keptOnly,
    });
    keptOnly = false;
    if (pages.length === 0) return;
    const events: PlacedEvent[] = [];
    // Pages hold other aggregates' events too: only this stream's are decoded (and upcast).
    const inRange = (e: StoredEvent) => e.aggregateId === aggregateId && e.seq >= from && e.seq <= to;
    for (const page of pages) events.push(...decodePage(registry, page, null, false, inRange, options.upcastFailures));
    events.sort((a, b) => (options.backwards ? b.event.seq - a.event.seq : a.event.seq - b.event.seq));
    if (events.length === 0) return;
    yield* events;
    const last = events[events.length - 1]!.event.seq;
    if (options.backwards) to = last - 1;
    else from = last + 1;
    if (pages.length < pagesPerCall) {
      // Every page in range came back: nothing further exists in this direction.
      return;
    }
  }
}

let warnedSnapshot = false;
/** Aggregate types whose state storage would change: warned about once each (see storeSnapshot). */
const warnedUnstorable = new Set<string>();

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
  options: {
    forceSnapshot?: boolean;
    /** Told the version of the snapshot the load stored, if it stored one. */
    onSnapshot?: (seq: number) => void;
    /** Only events at or before this place in the log (time travel); snapshots are not used. */
    until?: LogCursor | null;
    /** Leave these event ids out (what-if); snapshots are not used. */
    skip?: ReadonlySet<string>;
  } = {},
): Promise<LoadResult<unknown>> {
  if (options.until !== undefined || options.skip) {
    return retryOnceIfCompacted(() => foldFromScratch(connection, registry, definition, aggregateId, options));
  }
  return retryOnceIfCompacted(() => loadOnce(connection, registry, definition, aggregateId, options));
}

/**
 * Compaction can drop the events right after the base or snapshot a load
 * started from, and write a newer base, between the load's engine calls:
 * a later read then finds its seq dropped. Once, the whole load starts again
 * (and reads the new base); a second time, the error is thrown as it is. The
 * first call of a load reads only what is kept, so a 'stream' error comes
 * from a later read (or from a base these reducers cannot use: then the
 * second attempt throws it again).
 */
async function retryOnceIfCompacted<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!(error instanceof HistoryCompactedError) || error.what !== 'stream') throw error;
  }
  return attempt();
}

async function loadOnce(
  connection: EngineConnection,
  registry: Registry,
  definition: AnyAggregateDefinition,
  aggregateId: string,
  options: { forceSnapshot?: boolean; onSnapshot?: (seq: number) => void },
): Promise<LoadResult<unknown>> {
  const aggregate = aggregateRuntime(definition);
  // One engine call brings the snapshot and the pages after it.
  const first = await connection.engine.readSnapshotAndTail(aggregateId, STREAM_PAGES_PER_CALL);
  const isUsable = (record: SnapshotRecord | undefined): record is SnapshotRecord => snapshotFits(record, aggregate);
  // The later of the snapshot and the compaction base, of those this reducer can trust.
  const fromBase = isUsable(first.base) && (!isUsable(first.snapshot) || first.base.seq > first.snapshot.seq);
  const snapshot = fromBase ? first.base : first.snapshot;
  const usable = isUsable(snapshot);
  let state: unknown = usable ? snapshotState(snapshot) : aggregate.initialState();
  const snapshotVersion = usable ? snapshot.seq : 0;
  let version = snapshotVersion;
  let eventsApplied = 0;
  let unknownEvents = 0;
  /** The fold skipped an event of one of the aggregate's types at a version this app cannot read (a newer app's). */
  let skippedNewer = false;
  const apply = (event: LogEvent) => {
    const reducer = event.known ? aggregate.reducers[event.type] : undefined;
    if (reducer) state = reducer(state, event);
    else {
      unknownEvents++;
      if (aggregate.reducers[event.type]) skippedNewer = true;
    }
    version = event.seq;
    eventsApplied++;
  };
  // The prefetched pages serve only when they start right after the snapshot we use.
  const prefetchedFrom = Math.max(first.snapshot?.seq ?? 0, first.base?.seq ?? 0);
  const prefetched = prefetchedFrom === snapshotVersion ? first.pages : [];
  const head: LogEvent[] = [];
  const afterSnapshot = (e: StoredEvent) => e.aggregateId === aggregateId && e.seq > snapshotVersion;
  for (const page of prefetched) {
    for (const { event } of decodePage(registry, page, null, false, afterSnapshot)) head.push(event);
  }
  head.sort((a, b) => a.seq - b.seq);
  for (const event of head) {
    if (event.seq !== version + 1) break;
    apply(event);
  }
  const complete = prefetchedFrom === snapshotVersion && prefetched.length < STREAM_PAGES_PER_CALL && eventsApplied === head.length;
  if (!complete) {
    // From an explicit seq: if compaction dropped it (an unusable base), this throws HistoryCompactedError;
    // if compaction dropped it since the first call, the load starts again from the new base.
    for await (const event of readStream(connection, registry, aggregateId, { fromSeq: version + 1 })) apply(event);
  }
  const due = aggregate.snapshotEvery > 0 && eventsApplied >= aggregate.snapshotEvery;
  // No snapshot covers a newer app's event this one skipped: a newer build of the same reducer version would
  // load it and never fold that event. (store.snapshot() then stores none either; loads stay exact, only slower.)
  if ((due || options.forceSnapshot) && !skippedNewer && version > 0 && (eventsApplied > 0 || !usable || fromBase)) {
    await storeSnapshot(connection, aggregate, aggregateId, state, version, { ...options, rewrites: first.rewrites });
  }
  return { state, version, snapshotVersion, eventsApplied, unknownEvents };
}

/**
 * Stores `state` as the aggregate's snapshot at `seq`, unless storage would
 * change it (checkState): a load from that snapshot would then differ from
 * one that folds the events (a class instance back as a plain object, its
 * methods gone), and the app would see its state change at the first
 * snapshot. store.snapshot() (`forceSnapshot`) throws the typed error; an
 * automatic snapshot is left out, with a warning once per aggregate type,
 * since loads stay exact without it, only slower.
 */
async function storeSnapshot(
  connection: EngineConnection,
  aggregate: AggregateRuntime,
  aggregateId: string,
  state: unknown,
  seq: number,
  // `rewrites`: the log's pendingRewrites the fold started from (the engine refuses the snapshot if it moved).
  options: { forceSnapshot?: boolean; onSnapshot?: (seq: number) => void; rewrites?: number | undefined },
): Promise<void> {
  const owner = { aggregateType: aggregate.type, aggregateId };
  const warnUnstorable = (error: UnserializableDataError) => {
    if (warnedUnstorable.has(aggregate.type)) return;
    warnedUnstorable.add(aggregate.type);
    console.warn(`chronicle: ${error.message}; no snapshot is stored (loads fold every event)`);
  };
  const { problem, keepsAsJson } = checkState(state);
  if (problem) {
    const error = unstorableState(owner, problem);
    if (options.forceSnapshot) throw error;
    warnUnstorable(error);
    return;
  }
  // JSON text stores and loads faster than a structured clone, but only a state it gives back exactly may use it.
  const json = keepsAsJson && findJsonProblem(state) === undefined;
  try {
    const stored = await connection.engine.putSnapshot(
      {
        aggregateId,
        aggregateType: aggregate.type,
        reducerVersion: aggregate.version,
        seq,
        ...(json ? { stateJson: JSON.stringify(state) } : { state }),
        takenAt: Date.now(),
      },
      options.rewrites,
    );
    if (stored) options.onSnapshot?.(seq);
  } catch (caught) {
    // What checkState cannot see (a Proxy, nesting deeper than the clone goes) fails in the clone: the same typed error.
    const unclonable = cloneFailure(caught, owner);
    if (options.forceSnapshot) throw unclonable ?? caught;
    if (unclonable) warnUnstorable(unclonable);
    else if (!warnedSnapshot && !(caught instanceof StoreClosedError)) {
      // Any other failure only costs speed too: loads still work.
      warnedSnapshot = true;
      console.warn(`chronicle: could not store a snapshot of ${aggregate.type} (${String(caught)}); loads replay instead`);
    }
  }
}

/**
 * State folded from the first event, for inspection: up to a place in the log
 * (time travel) and/or without some events (what-if). Nothing is stored.
 */
async function foldFromScratch(
  connection: EngineConnection,
  registry: Registry,
  definition: AnyAggregateDefinition,
  aggregateId: string,
  options: { until?: LogCursor | null; skip?: ReadonlySet<string> },
): Promise<LoadResult<unknown>> {
  const aggregate = aggregateRuntime(definition);
  // Over compacted history, the fold starts from the compaction base: exact for any place at or after the start of local history.
  const { base } = await connection.engine.readSnapshotAndTail(aggregateId, 0);
  let state: unknown = aggregate.initialState();
  let version = 0;
  let historyStartsAt = 1;
  if (base) {
    historyStartsAt = (await connection.engine.stats()).historyStartsAt;
    const until = options.until;
    if (base.aggregateType !== aggregate.type || base.reducerVersion !== aggregate.version) {
      throw new HistoryCompactedError('state', historyStartsAt, {
        aggregateId,
        reason: 'the compaction base was made by another reducer version',
      });
    }
    if (until && until.area === 0 && confirmedPositionOf(until) < historyStartsAt - 1) {
      throw new HistoryCompactedError('state', historyStartsAt, { aggregateId, until: confirmedPositionOf(until) });
    }
    state = snapshotState(base);
    version = base.seq;
  }
  let eventsApplied = 0;
  let unknownEvents = 0;
  // Skipped ids seen in the kept stream: over a base, one not seen may be inside the base, and cannot be left out.
  const skippedSeen = new Set<string>();
  // An aggregate's events lie in the log in seq order, so the first one after `until` ends the fold; but over a
  // base, skipped ids must all be seen, and the rest of the stream is read for them.
  const readToEnd = Boolean(base) && options.skip !== undefined;
  // This runs on the app's thread (the devtools' time travel and what-if, a store's inspect): a long stream is
  // read a few pages at a time and folded in slices, so the page keeps painting and answering input.
  let sliceStart = performance.now();
  const stream = readStreamPlaced(connection, registry, aggregateId, { fromSeq: version + 1, pagesPerCall: INSPECT_PAGES_PER_CALL });
  for await (const { event, cursor } of stream) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldTask();
      sliceStart = performance.now();
    }
    if (options.skip?.has(event.id)) skippedSeen.add(event.id);
    if (options.until && isAfter(cursor, options.until)) {
      if (readToEnd) continue;
      break;
    }
    version = event.seq;
    if (options.skip?.has(event.id)) continue;
    const reducer = event.known ? aggregate.reducers[event.type] : undefined;
    if (reducer) state = reducer(state, event);
    else unknownEvents++;
    eventsApplied++;
  }
  if (base && options.skip) {
    const missing = [...options.skip].filter((id) => !skippedSeen.has(id));
    if (missing.length > 0) {
      throw new HistoryCompactedError('state', historyStartsAt, {
        aggregateId,
        skip: missing,
        reason: 'a skipped event is not in the kept stream: it may be inside the compaction base',
      });
    }
  }
  return { state, version, snapshotVersion: 0, eventsApplied, unknownEvents };
}

/** A snapshot's or compaction base's state (stored as JSON text when it is plain JSON). */
export function snapshotState(record: SnapshotRecord): unknown {
  return record.stateJson !== undefined ? JSON.parse(record.stateJson) : record.state;
}

/** Whether a snapshot or compaction base was folded by this aggregate's current reducers (else it cannot be trusted). */
export function snapshotFits(record: SnapshotRecord | undefined, aggregate: AggregateRuntime): record is SnapshotRecord {
  return record !== undefined && record.aggregateType === aggregate.type && record.reducerVersion === aggregate.version;
}
