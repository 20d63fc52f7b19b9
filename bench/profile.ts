/**
 * Profiling harness (node bench/run.mjs --profile), page side: where the time
 * of each benchmark goes, phase by phase. Loaded on demand; `npm run bench`
 * does not run it.
 */
import * as Comlink from 'comlink';
import { createRegistry, openStore, type StoredEvent } from '../src/client/index.ts';
import { chunks, orderEvent, prng, serverLog } from './data.ts';
import { foldSummary, initialSummary, model, Order, OrderWithoutSnapshot, type LogSummary } from './model.ts';
import type { ProfileWorkerApi } from './profile.worker.ts';
import type { EngineHost } from '../worker/index.ts';
import type { Engine } from '../worker/engine.ts';

const PREFIX = 'chronicle-bench-profile-';
const now = (): number => performance.now();
const r3 = (n: number): number => Number(n.toFixed(3));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

type Batch = { aggregateId: string; events: { type: string; data: unknown }[] }[];

function batchesOf(log: readonly StoredEvent[]): Batch[] {
  return chunks(log, 1000).map((batch) => {
    const byAggregate = new Map<string, Batch[number]>();
    for (const e of batch) {
      let entry = byAggregate.get(e.aggregateId);
      if (!entry) byAggregate.set(e.aggregateId, (entry = { aggregateId: e.aggregateId, events: [] }));
      entry.events.push({ type: e.type, data: e.data });
    }
    return [...byAggregate.values()];
  });
}

/** The client's share of a replay (src/client/log-scan.ts + replay.ts), on pages already in the page. */
async function replayClientPhases(pages: string[]): Promise<Record<string, number>> {
  const registry = createRegistry({ events: model.events, aggregates: model.aggregates });
  let t0 = now();
  const parsed = pages.map((p) => JSON.parse(p) as StoredEvent[]);
  const parseMs = now() - t0;
  t0 = now();
  const decoded = parsed.map((events, page) => events.map((e, index) => ({ event: registry.decode(e), cursor: { area: 0, page, index } })));
  const decodeMs = now() - t0;
  let state: LogSummary = initialSummary();
  t0 = now();
  for (const list of decoded) for (const { event } of list) state = foldSummary(state, event);
  const foldSyncMs = now() - t0;
  state = initialSummary();
  const handler = (event: { type: string; data: unknown }): void => {
    state = foldSummary(state, event);
  };
  t0 = now();
  for (const list of decoded) {
    for (const { event } of list) {
      // replay.ts awaits the handler for every event.
      await handler(event);
    }
  }
  const foldAwaitedMs = now() - t0;
  return { parseMs: r3(parseMs), decodeMs: r3(decodeMs), foldSyncMs: r3(foldSyncMs), foldAwaitPerEventMs: r3(foldAwaitedMs) };
}

/** The engine's worker driven directly through comlink (as src/client/connection.ts does): cost per call. */
async function remoteEngineCalls(name: string, aggregateId: string): Promise<Record<string, number>> {
  const worker = new Worker(new URL('../worker/index.ts', import.meta.url), { type: 'module', name: 'bench-profile-engine' });
  const host = Comlink.wrap<EngineHost>(worker);
  const engine = (await host.open({ name })) as unknown as Comlink.Remote<Engine>;
  const registry = createRegistry({ events: model.events, aggregates: model.aggregates });
  const times: Record<string, number[]> = { stats: [], getSnapshot: [], readStreamTail: [], getSnapshotAndTailConcurrently: [], append: [] };
  let version = 0;
  for (let i = 0; i < 320; i++) {
    const t0 = now();
    await engine.stats();
    const t1 = now();
    const snap = await engine.getSnapshot(aggregateId);
    const t2 = now();
    await engine.readStream({ aggregateId, fromSeq: (snap?.seq ?? 0) + 1, toSeq: Infinity, maxPages: 128 });
    const t3 = now();
    await Promise.all([engine.getSnapshot(aggregateId), engine.readStream({ aggregateId, fromSeq: 10_001, toSeq: Infinity, maxPages: 128 })]);
    const t4 = now();
    const events = registry.encode([{ type: 'ItemAdded', data: { sku: 'sku-1', qty: 1, price: 1 } }]);
    const t5 = now();
    const outcome = await engine.append({ aggregateId: 'order-remote', aggregateType: 'Order', expectedVersion: version, events });
    const t6 = now();
    version = outcome.nextExpectedVersion;
    if (i < 20) continue;
    times.stats!.push(t1 - t0);
    times.getSnapshot!.push(t2 - t1);
    times.readStreamTail!.push(t3 - t2);
    times.getSnapshotAndTailConcurrently!.push(t4 - t3);
    times.append!.push(t6 - t5);
  }
  await engine.close();
  engine[Comlink.releaseProxy]();
  host[Comlink.releaseProxy]();
  worker.terminate();
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [`remote_${k}_MedianMs`, r3(median(v))]));
}

export async function profile(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {};
  const worker = new Worker(new URL('./profile.worker.ts', import.meta.url), { type: 'module', name: 'bench-profile' });
  const w = Comlink.wrap<ProfileWorkerApi>(worker);
  try {
    // Crossing the worker boundary: one comlink call with a tiny payload.
    const echo: number[] = [];
    for (let i = 0; i < 600; i++) {
      const t0 = now();
      await w.echo(i);
      if (i >= 100) echo.push(now() - t0);
    }
    report.comlinkEchoMedianMs = r3(median(echo));

    const log = serverLog(1000, 100);
    const pages = chunks(log, 1000).map((p) => JSON.stringify(p));
    report.ingest = await w.ingestPhases(pages, PREFIX);
    report.batch = await w.batchPhases(batchesOf(log), PREFIX);
    report.replayEngine = await w.replayPhases(pages, PREFIX);
    report.replayClient = await replayClientPhases(pages);

    // aggregate-load: the real store, then the same reads inside a worker without comlink.
    const loadDb = `${PREFIX}load`;
    await deleteDb(loadDb);
    const store = await openStore({ name: loadDb, ...model });
    const random = prng(7);
    for (let from = 1; from <= 10_000; from += 1000) {
      const events = [];
      for (let seq = from; seq < from + 1000; seq++) events.push(orderEvent(random, 1, seq, 10_000, 20));
      await store.append('order-long', events as Parameters<typeof store.append>[1], { aggregate: Order, expectedVersion: from - 1 });
    }
    await store.snapshot(Order, 'order-long');
    const withSnap: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < 25; i++) {
      let t0 = now();
      await store.load(Order, 'order-long');
      if (i >= 5) withSnap.push(now() - t0);
      t0 = now();
      await store.load(OrderWithoutSnapshot, 'order-long');
      if (i >= 5) without.push(now() - t0);
    }
    const append: number[] = [];
    for (let i = 0; i < 600; i++) {
      const t0 = now();
      await store.append('order-rt', [{ type: 'ItemAdded', data: { sku: 'sku-1', qty: 1, price: 1 } }], { aggregate: Order });
      if (i >= 100) append.push(now() - t0);
    }
    await store.close();
    report.load = {
      storeLoadWithSnapshotMedianMs: r3(median(withSnap)),
      storeLoadWithoutSnapshotMedianMs: r3(median(without)),
      ...(await w.loadPhases(loadDb, 'order-long', 30)),
      ...(await remoteEngineCalls(loadDb, 'order-long')),
    };
    await deleteDb(loadDb);
    report.append = { storeAppendMedianMs: r3(median(append)), ...(await w.appendPhases(PREFIX, 500)) };
  } finally {
    w[Comlink.releaseProxy]();
    worker.terminate();
    for (const info of await indexedDB.databases()) if (info.name?.startsWith(PREFIX)) await deleteDb(info.name);
  }
  return report;
}

// ---------------------------------------------------------------- CPU profiles of the real store (run.mjs attaches the profiler)

type AnyStore = Awaited<ReturnType<typeof openStore<typeof model.events, typeof model.aggregates>>>;
let cpuStore: AnyStore | null = null;
let cpuPages: string[] = [];
let cpuBatches: Batch[] = [];
const CPU_DB = `${PREFIX}cpu`;

/** Opens a store for `kind` (filling it first where the step reads) so the run step is all that is profiled. */
export async function cpuOpen(kind: 'ingest' | 'batch' | 'replay'): Promise<void> {
  const log = serverLog(1000, 100);
  cpuPages = chunks(log, 1000).map((p) => JSON.stringify(p));
  cpuBatches = batchesOf(log);
  await deleteDb(CPU_DB);
  if (kind === 'replay') {
    const filler = await openStore({ name: CPU_DB, ...model });
    for (const page of cpuPages) await filler.importConfirmed(page);
    await filler.close();
  }
  cpuStore = await openStore({ name: CPU_DB, ...model });
  await cpuStore.info();
}

export async function cpuRun(kind: 'ingest' | 'batch' | 'replay'): Promise<number> {
  const store = cpuStore!;
  const t0 = now();
  if (kind === 'ingest') for (const page of cpuPages) await store.importConfirmed(page);
  if (kind === 'batch') {
    for (const batch of cpuBatches) {
      await store.appendBatch(batch.map((e) => ({ ...e, options: { aggregate: Order } })) as Parameters<typeof store.appendBatch>[0]);
    }
  }
  if (kind === 'replay') {
    let state = initialSummary();
    await store.replay({
      handler: (event) => {
        state = foldSummary(state, event);
      },
    });
  }
  return r3(now() - t0);
}

export async function cpuClose(): Promise<void> {
  await cpuStore?.close();
  cpuStore = null;
  cpuPages = [];
  cpuBatches = [];
  await deleteDb(CPU_DB);
}
