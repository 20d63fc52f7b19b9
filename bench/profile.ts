/**
 * Profiling harness (node bench/run.mjs --profile), page side: sets up and
 * runs one operation of the real store while run.mjs CPU-profiles the page
 * and the engine's worker. Loaded on demand; `npm run bench` does not run it.
 */
import { openStore, type StoredEvent } from '../src/client/index.ts';
import { chunks, orderEvent, prng, serverLog } from './data.ts';
import { foldSummary, initialSummary, model, Order } from './model.ts';

export const PROFILE_KINDS = ['ingest', 'batch', 'replay', 'append', 'load'] as const;
export type ProfileKind = (typeof PROFILE_KINDS)[number];

const DB = 'chronicle-bench-profile-cpu';
const APPENDS = 2_000;
const LOADS = 1_000;
const LOAD_STREAM_EVENTS = 10_000;
const now = (): number => performance.now();

type Store = Awaited<ReturnType<typeof openStore<typeof model.events, typeof model.aggregates>>>;
type BatchEntries = Parameters<Store['appendBatch']>[0];

let store: Store | null = null;
let pages: string[] = [];
let batches: BatchEntries[] = [];
let version = 0;

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

/** The log's events as local appendBatch calls: per 1,000 events, one entry per aggregate. */
function batchesOf(log: readonly StoredEvent[]): BatchEntries[] {
  return chunks(log, 1000).map((batch) => {
    const byAggregate = new Map<
      string,
      { aggregateId: string; events: { type: string; data: unknown }[]; options: { aggregate: typeof Order } }
    >();
    for (const e of batch) {
      let entry = byAggregate.get(e.aggregateId);
      if (!entry) byAggregate.set(e.aggregateId, (entry = { aggregateId: e.aggregateId, events: [], options: { aggregate: Order } }));
      entry.events.push({ type: e.type, data: e.data });
    }
    return [...byAggregate.values()] as unknown as BatchEntries;
  });
}

const item = () => ({ type: 'ItemAdded' as const, data: { sku: 'sku-1', qty: 1, price: 9.99 } });

/** Prepares what `kind` needs (not profiled): data, a filled store where the operation reads one. */
export async function cpuOpen(kind: ProfileKind): Promise<void> {
  await deleteDb(DB);
  if (kind === 'ingest' || kind === 'batch' || kind === 'replay') {
    const log = serverLog(1000, 100);
    pages = chunks(log, 1000).map((p) => JSON.stringify(p));
    if (kind === 'batch') batches = batchesOf(log);
  }
  if (kind === 'replay') {
    const filler = await openStore({ name: DB, ...model });
    for (const page of pages) await filler.importConfirmed(page);
    await filler.close();
    pages = [];
  }
  store = await openStore({ name: DB, ...model });
  if (kind === 'append') {
    version = (await store.append('order-profile', [{ type: 'OrderPlaced', data: { customerId: 'c' } }], { aggregate: Order }))
      .nextExpectedVersion;
  }
  if (kind === 'load') {
    const random = prng(7);
    for (let from = 1; from <= LOAD_STREAM_EVENTS; from += 1000) {
      const events = [];
      for (let seq = from; seq < from + 1000; seq++) events.push(orderEvent(random, 1, seq, LOAD_STREAM_EVENTS, 20));
      await store.append('order-long', events as Parameters<Store['append']>[1], { aggregate: Order, expectedVersion: from - 1 });
    }
    await store.snapshot(Order, 'order-long');
  }
  await store.info();
}

/** Runs the operation (profiled); returns its wall time in ms. */
export async function cpuRun(kind: ProfileKind): Promise<number> {
  const s = store;
  if (!s) throw new Error('cpuOpen first');
  const t0 = now();
  if (kind === 'ingest') for (const page of pages) await s.importConfirmed(page);
  if (kind === 'batch') for (const entries of batches) await s.appendBatch(entries);
  if (kind === 'replay') {
    let state = initialSummary();
    await s.replay({
      handler: (event) => {
        state = foldSummary(state, event);
      },
    });
  }
  if (kind === 'append') {
    for (let i = 0; i < APPENDS; i++) {
      version = (await s.append('order-profile', [item()], { aggregate: Order, expectedVersion: version })).nextExpectedVersion;
    }
  }
  if (kind === 'load') for (let i = 0; i < LOADS; i++) await s.load(Order, 'order-long');
  return Number((now() - t0).toFixed(1));
}

export async function cpuClose(): Promise<void> {
  await store?.close();
  store = null;
  pages = [];
  batches = [];
  await deleteDb(DB);
}
