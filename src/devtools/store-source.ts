import { ConfigError, type AnyAggregateDefinition, type AnyEventDefinition } from '../core/index.ts';
import { openStore, type LogCursor, type LogEntry, type Store, type SyncStatus, type WorkerOption } from '../client/index.ts';
import { sameCursor } from './cursor.ts';
import { diffValues } from './diff.ts';
import { createEncoder } from './encode.ts';
import { DevtoolsError } from './errors.ts';
import type { DevtoolsEntry, DevtoolsSource, InspectResult, PageRequest, ParkedView, SourceEvent, StateQuery } from './types.ts';

/** The parts of a store the devtools use: any `Store<...>` fits. */
export type DevtoolsStore = Pick<
  Store,
  | 'name'
  | 'inWorker'
  | 'info'
  | 'scan'
  | 'inspect'
  | 'timeTravel'
  | 'exportLog'
  | 'importLog'
  | 'subscribeLog'
  | 'sync'
  | 'metrics'
  | 'reactions'
  | 'close'
>;

export interface StoreSourceOptions {
  /** Aggregate definitions: needed to compute states (before / after / what-if). */
  aggregates?: readonly AnyAggregateDefinition[];
  /** Event types outside the aggregates, for the scratch store an import opens. */
  events?: readonly AnyEventDefinition[];
  /** Where a scratch store runs its engine: in-process (false, the default) or in a worker. */
  scratchWorker?: WorkerOption;
}

interface InternalOptions extends StoreSourceOptions {
  /** The source opened this store (an import's scratch copy): dispose closes and deletes it. */
  owned?: boolean;
}

/** Budget of nodes for an encoded state; deeper parts are fetched on demand. */
const STATE_BUDGET = 400;
/** Budget per value shown in a diff line. */
const DIFF_VALUE_BUDGET = 40;
/** Lines handed over per export chunk. */
const EXPORT_CHUNK = 2000;
/**
 * Events per page() call. The panel lives on the app's main thread, where a
 * page is decoded: 12,000 (the store's default scan batch) made 50-90 ms long
 * tasks; 2,000 keep each well under a frame budget of work.
 */
const PAGE_EVENTS = 2000;

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => resolve();
  });
}

let scratchCounter = 0;

const STORE_METHODS = ['info', 'scan', 'inspect', 'exportLog', 'importLog', 'subscribeLog', 'metrics', 'close'] as const;
const STORE_PARTS = ['timeTravel', 'sync', 'reactions'] as const;

/** Whether a value has the store parts the devtools use (plain JavaScript may pass null, {} or another object). */
function isDevtoolsStore(value: unknown): value is DevtoolsStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return (
    STORE_METHODS.every((method) => typeof store[method] === 'function') &&
    STORE_PARTS.every((part) => typeof store[part] === 'object' && store[part] !== null)
  );
}

/** A DevtoolsSource backed directly by a store in this page. */
export function createStoreSource(store: DevtoolsStore, options: StoreSourceOptions = {}): DevtoolsSource {
  // The aggregates whose states the panel computes: a list of definitions (it failed later with a TypeError).
  const { aggregates } = options;
  if (aggregates !== undefined && !(Array.isArray(aggregates) && aggregates.every((a) => typeof a?.type === 'string')))
    throw new ConfigError('devtools aggregates must be a list of defineAggregate(...) definitions');
  // Checked before a panel is made: a TypeError from deep inside the panel, with the panel left in the page, before.
  if (!isDevtoolsStore(store)) throw new ConfigError('the devtools need a store (from openStore) or a DevtoolsSource');
  return storeSource(store, options);
}

function storeSource(store: DevtoolsStore, options: InternalOptions): DevtoolsSource {
  const aggregates = new Map((options.aggregates ?? []).map((a) => [a.type, a]));
  const encoder = createEncoder();
  const stops = new Set<() => void>();
  let disposed = false;
  /** The scan the last page() came from, left open for the page after it. */
  let openScan: { status: PageRequest['status']; last: LogCursor | null; iterator: AsyncIterator<LogEntry[]> } | undefined;
  const closeScan = async () => {
    const scan = openScan;
    openScan = undefined;
    await scan?.iterator.return?.();
  };

  const eventTypes = () => {
    const types = new Set<string>();
    for (const aggregate of aggregates.values()) for (const def of aggregate.events) types.add(def.type);
    for (const def of options.events ?? []) types.add(def.type);
    return [...types].sort();
  };

  const stateAt = async (aggregate: AnyAggregateDefinition, aggregateId: string, query: StateQuery) => {
    const result = await store.inspect(aggregate, aggregateId, { until: query.until ?? null, skip: query.skip ?? [] });
    return result as { state: unknown; version: number };
  };

  const source: DevtoolsSource = {
    kind: 'chronicle-devtools-source',
    async info() {
      const info = await store.info();
      return {
        name: info.name,
        clientId: info.clientId,
        inWorker: info.inWorker,
        pendingEvents: info.pendingEvents,
        confirmedEvents: info.confirmedEvents,
        historyStartsAt: info.historyStartsAt,
        aggregates: [...aggregates.values()].map((a) => ({ type: a.type, events: a.events.map((e) => e.type) })),
        eventTypes: eventTypes(),
        scratch: options.owned === true,
      };
    },
    async page({ status, after }) {
      // A page that continues where the last one ended reads on from the same
      // scan, whose next batch is already on its way from the engine. An event
      // whose upcast fails is listed as unreadable, with the upcaster's error:
      // debugging that upcaster is what the panel is open for then.
      const resumable = openScan && openScan.status === status && sameCursor(openScan.last, after);
      const iterator = resumable
        ? openScan!.iterator
        : store.scan({ status, after }, { batchEvents: PAGE_EVENTS, upcastFailures: 'unreadable' })[Symbol.asyncIterator]();
      if (!resumable) await closeScan();
      openScan = undefined;
      try {
        const next = await iterator.next();
        if (next.done) return { entries: [], end: true };
        const entries: DevtoolsEntry[] = next.value.map(({ event, cursor }) => ({ event, cursor }));
        openScan = { status, last: entries.length > 0 ? entries[entries.length - 1]!.cursor : (after ?? null), iterator };
        return { entries, end: false };
      } catch (error) {
        await iterator.return?.();
        throw error;
      }
    },
    async inspect(request) {
      const aggregate = aggregates.get(request.aggregateType);
      if (!aggregate) {
        throw new DevtoolsError(
          'NO_AGGREGATE',
          `No definition of the ${request.aggregateType} aggregate was given: pass it in { aggregates: [...] } to see its states`,
        );
      }
      const state = await stateAt(aggregate, request.aggregateId, request);
      const result: InspectResult = { state: { version: state.version, state: encoder.encode(state.state, STATE_BUDGET) } };
      if (request.compareTo) {
        const base = await stateAt(aggregate, request.aggregateId, request.compareTo);
        result.base = { version: base.version, state: encoder.encode(base.state, STATE_BUDGET) };
        result.diff = diffValues(base.state, state.state, (value) => encoder.encode(value, DIFF_VALUE_BUDGET));
      }
      return result;
    },
    async expand(ref, offset) {
      return encoder.expand(ref, offset);
    },
    async travel(position) {
      if (position) store.timeTravel.to(position);
      else store.timeTravel.resume();
    },
    async position() {
      return store.timeTravel.position();
    },
    async exportLog(filter, onLines) {
      let count = 0;
      let chunk: string[] = [];
      for await (const line of store.exportLog(filter)) {
        chunk.push(line);
        count++;
        if (chunk.length >= EXPORT_CHUNK) {
          onLines(chunk);
          chunk = [];
        }
      }
      if (chunk.length) onLines(chunk);
      return count;
    },
    async importLog(ndjson) {
      scratchCounter++;
      const name = `${store.name}-scratch-${Date.now().toString(36)}-${scratchCounter}`;
      const scratch = await openStore({
        name,
        aggregates: options.aggregates ?? [],
        events: options.events ?? [],
        worker: options.scratchWorker ?? false,
      });
      try {
        const result = await scratch.importLog(ndjson);
        const child = storeSource(scratch as unknown as DevtoolsStore, { ...options, owned: true });
        return { source: child, result, name };
      } catch (error) {
        await scratch.close().catch(() => undefined);
        await deleteDatabase(name);
        throw error;
      }
    },
    syncStatus: () => store.sync.status(),
    rejected: () => store.sync.rejected(),
    metrics: () => store.metrics(),
    async reactions() {
      const [statuses, parked] = await Promise.all([store.reactions.status(), store.reactions.parked()]);
      return {
        statuses,
        parked: parked.map((p): ParkedView => ({
          reaction: p.reaction,
          eventId: p.eventId,
          type: p.event.type,
          aggregateId: p.event.aggregateId,
          seq: p.event.seq,
          attempts: p.attempts,
          lastError: p.lastError,
          parkedAt: p.parkedAt,
          retryRequested: p.retryRequested,
        })),
      };
    },
    retryParked: (reaction, eventId) => store.reactions.retry(reaction, eventId),
    skipParked: (reaction, eventId) => store.reactions.skip(reaction, eventId),
    subscribe(listener) {
      const emit = (event: SourceEvent) => {
        if (!disposed) listener(event);
      };
      let last: SyncStatus | undefined;
      const parts = [
        // Every append made after this call returns, here or in another tab (issue 9, point 5).
        store.subscribeLog(() => emit({ kind: 'appended' })),
        store.timeTravel.subscribe((position) => emit({ kind: 'travel', position })),
        store.sync.subscribe((status) => {
          // Confirmed, rebased or rejected: pending events moved, which subscribeLog does not report.
          const moved = last !== undefined && (status.confirmedPosition !== last.confirmedPosition || status.pending < last.pending);
          last = status;
          if (moved) emit({ kind: 'reordered' });
          emit({ kind: 'sync', status });
        }),
        store.reactions.subscribe(() => emit({ kind: 'reactions' })),
        store.sync.onOutcome((outcomes) => {
          emit({ kind: 'outcomes', outcomes });
          emit({ kind: 'reordered' });
        }),
      ];
      const stop = () => {
        for (const part of parts) part();
        stops.delete(stop);
      };
      stops.add(stop);
      return stop;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await closeScan();
      for (const stop of [...stops]) stop();
      encoder.clear();
      if (options.owned) {
        await store.close().catch(() => undefined);
        await deleteDatabase(store.name);
      }
    },
  };
  return source;
}
