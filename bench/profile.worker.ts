/**
 * Profiling harness (node bench/run.mjs --profile), worker side. It times the
 * phases of what Chronicle's engine does, inside a dedicated worker as the
 * engine runs: the engine itself called in-process here (no comlink, no main
 * thread), and raw IndexedDB variants of its storage layout, to show which
 * engine change would buy how much. Not part of `npm run bench`'s figures.
 */
import * as Comlink from 'comlink';
import { createRegistry, type StoredEvent } from '../src/client/index.ts';
import { createEngine, type Engine } from '../worker/engine.ts';
import type { AppendRequest, LogCursor, RawPage } from '../worker/types.ts';
import { model } from './model.ts';

const now = (): number => performance.now();
const r2 = (n: number): number => Number(n.toFixed(3));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

const committed = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

type Layout = 'chronicle' | 'stream-string-keys' | 'no-stream-index' | 'no-stream-index+directory' | 'no-indexes';

async function openRaw(name: string, layout: Layout): Promise<IDBDatabase> {
  await deleteDb(name);
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      const pages = db.createObjectStore('pages');
      if (layout === 'chronicle') pages.createIndex('stream', 'stream', { multiEntry: true });
      if (layout === 'stream-string-keys') pages.createIndex('streamKeys', 'streamKeys', { multiEntry: true });
      if (layout !== 'no-indexes') pages.createIndex('id', 'id', { multiEntry: true });
      db.createObjectStore('meta');
      db.createObjectStore('heads');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

interface RawPageRecord {
  json: string;
  count: number;
  stream: [string, number][];
  id: string[];
  t0: number;
  t1: number;
}

/** Chronicle's page layout (worker/page-builder.ts): ≤1,000 events and ≤60 KiB of JSON per record. */
function buildRecords(events: readonly StoredEvent[], jsons: readonly string[]): RawPageRecord[] {
  const out: RawPageRecord[] = [];
  let start = 0;
  while (start < events.length) {
    let end = start;
    let chars = 2;
    while (end < events.length && end - start < 1000) {
      const next = jsons[end]!.length + 1;
      if (end > start && chars + next > 60 * 1024) break;
      chars += next;
      end++;
    }
    const heads = new Map<string, number>();
    let t0 = Infinity;
    let t1 = -Infinity;
    for (let i = start; i < end; i++) {
      const e = events[i]!;
      if ((heads.get(e.aggregateId) ?? 0) < e.seq) heads.set(e.aggregateId, e.seq);
      t0 = Math.min(t0, e.meta.occurredAt);
      t1 = Math.max(t1, e.meta.occurredAt);
    }
    out.push({ json: `[${jsons.slice(start, end).join(',')}]`, count: end - start, stream: [...heads], id: [], t0, t1 });
    start = end;
  }
  return out;
}

// ---------------------------------------------------------------- bulk-append (ingest)

async function ingestPhases(pages: string[], dbPrefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // JS work the engine does per page, before IndexedDB.
  let t0 = now();
  const parsed = pages.map((p) => JSON.parse(p) as StoredEvent[]);
  out.parseMs = r2(now() - t0);
  t0 = now();
  const jsons = parsed.map((events) => events.map((e) => JSON.stringify(e)));
  out.restringifyPerEventMs = r2(now() - t0);
  t0 = now();
  const records = parsed.map((events, i) => buildRecords(events, jsons[i]!));
  out.buildPagesMs = r2(now() - t0);
  const recordCount = records.reduce((n, rs) => n + rs.length, 0);
  const streamEntries = records.reduce((n, rs) => n + rs.reduce((m, r) => m + r.stream.length, 0), 0);
  out.records = recordCount;
  out.streamIndexEntries = streamEntries;

  // The engine itself, in this worker: importConfirmed minus comlink and the main thread.
  const engineDb = `${dbPrefix}engine`;
  await deleteDb(engineDb);
  const engine = await createEngine({ name: engineDb });
  t0 = now();
  for (const page of pages) await engine.ingestConfirmed(page);
  out.engineInWorkerMs = r2(now() - t0);
  await engine.close();
  await deleteDb(engineDb);

  // The same page records written raw, one transaction per 1,000 events, per layout.
  const layouts: Layout[] = ['chronicle', 'stream-string-keys', 'no-stream-index', 'no-stream-index+directory', 'no-indexes'];
  const raw: Record<string, number> = {};
  for (const layout of layouts) {
    const name = `${dbPrefix}raw-${layout}`;
    const db = await openRaw(name, layout);
    let position = 1;
    t0 = now();
    for (const batch of records) {
      const tx = db.transaction(['pages', 'meta'], 'readwrite');
      const store = tx.objectStore('pages');
      const directory: [number, [string, number][]][] = [];
      for (const record of batch) {
        if (layout === 'stream-string-keys') {
          const { stream, ...rest } = record;
          store.put({ ...rest, streamKeys: stream.map(([id, seq]) => `${id}\u0000${String(seq).padStart(10, '0')}`) }, [0, position]);
        } else if (layout === 'chronicle') {
          store.put(record, [0, position]);
        } else {
          const { stream, ...rest } = record;
          store.put(rest, [0, position]);
          directory.push([position, stream]);
        }
        position += record.count;
      }
      // The stream index kept as data: one record per transaction mapping its pages to aggregates.
      if (layout === 'no-stream-index+directory') tx.objectStore('meta').put(directory, `directory:${position}`);
      tx.objectStore('meta').put({ confirmedHead: position - 1 }, 'client');
      await committed(tx);
    }
    raw[layout] = r2(now() - t0);
    db.close();
    await deleteDb(name);
  }
  out.rawWriteMs = raw;
  return out;
}

// ---------------------------------------------------------------- batch-append

async function batchPhases(batches: { aggregateId: string; events: { type: string; data: unknown }[] }[][], dbPrefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const registry = createRegistry({ events: model.events, aggregates: model.aggregates });
  // Main-thread work of appendBatch: validation (zod) and encoding.
  let t0 = now();
  const requests: AppendRequest[][] = batches.map((batch) =>
    batch.map((entry) => ({
      aggregateId: entry.aggregateId,
      aggregateType: 'Order',
      expectedVersion: 'any',
      events: registry.encode(entry.events as Parameters<typeof registry.encode>[0]),
    })),
  );
  out.encodeMs = r2(now() - t0);

  const name = `${dbPrefix}engine-batch`;
  await deleteDb(name);
  const engine = await createEngine({ name });
  const perBatch: number[] = [];
  let decodeMs = 0;
  for (const group of requests) {
    t0 = now();
    const outcomes = await engine.appendBatch(group);
    perBatch.push(now() - t0);
    // What the client then does with the reply (store.ts toResult).
    const t1 = now();
    for (const o of outcomes) for (const e of JSON.parse(o.eventsJson) as StoredEvent[]) registry.decode(e);
    decodeMs += now() - t1;
  }
  out.engineInWorkerMs = r2(perBatch.reduce((a, b) => a + b, 0));
  out.engineBatchMedianMs = r2(median(perBatch));
  out.engineBatchMaxMs = r2(Math.max(...perBatch));
  out.engineFirst10Ms = r2(perBatch.slice(0, 10).reduce((a, b) => a + b, 0));
  out.engineLast10Ms = r2(perBatch.slice(-10).reduce((a, b) => a + b, 0));
  out.decodeRepliesMs = r2(decodeMs);
  await engine.close();

  // appendBatch's transaction replayed raw on Chronicle's layout (pending pages index every
  // event id and every aggregate): with the per-aggregate head reads it does today, and
  // without them (heads cached in the engine).
  const rawBatch: Record<string, unknown> = {};
  for (const withHeads of [true, false]) {
    const rawName = `${dbPrefix}raw-batch`;
    const db = await openRaw(rawName, 'chronicle');
    let lsn = 1;
    const times: number[] = [];
    for (const group of requests) {
      const events: StoredEvent[] = [];
      const jsons: string[] = [];
      for (const request of group) {
        request.events.forEach((e, i) => {
          const stored = { id: e.id, aggregateId: request.aggregateId, seq: i + 1, meta: { occurredAt: e.occurredAt } } as StoredEvent;
          events.push(stored);
          jsons.push(`{"id":"${e.id}","aggregateId":"${request.aggregateId}","aggregateType":"Order","seq":${i + 1},${e.body.slice(1, -2)},"clientId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","clientSeq":${lsn}}}`);
        });
      }
      const records = buildRecords(events, jsons);
      // Pending pages index every event id.
      let at = 0;
      for (const record of records) {
        record.id = events.slice(at, at + record.count).map((e) => e.id);
        at += record.count;
      }
      const t0 = now();
      const tx = db.transaction(['pages', 'meta'], 'readwrite');
      const pages = tx.objectStore('pages');
      if (withHeads) {
        const ids = events.map((e) => e.id);
        await Promise.all([
          done(tx.objectStore('meta').get('client')),
          ...group.map((r) => done(pages.index('stream').openKeyCursor(IDBKeyRange.bound([r.aggregateId], [r.aggregateId, []]), 'prev'))),
          done(pages.index('id').count(IDBKeyRange.bound(ids.reduce((a, b) => (a < b ? a : b)), ids.reduce((a, b) => (a > b ? a : b))))),
        ]);
      } else {
        await done(tx.objectStore('meta').get('client'));
      }
      for (const record of records) pages.put(record, [1, lsn++]);
      tx.objectStore('meta').put({ nextLsn: lsn }, 'client');
      await committed(tx);
      times.push(now() - t0);
    }
    rawBatch[withHeads ? 'withHeadReads' : 'headsCached'] = {
      totalMs: r2(times.reduce((a, b) => a + b, 0)),
      medianMs: r2(median(times)),
      maxMs: r2(Math.max(...times)),
    };
    db.close();
    await deleteDb(rawName);
  }
  out.rawBatchTransactions = rawBatch;

  // The per-aggregate head reads of one append transaction, alone, on the filled log.
  const ids = batches[batches.length - 1]!.map((e) => e.aggregateId);
  const db = await done(indexedDB.open(name));
  const heads: Record<string, number> = {};
  for (let round = 0; round < 3; round++) {
    t0 = now();
    const tx = db.transaction('pages', 'readonly');
    const index = tx.objectStore('pages').index('stream');
    await Promise.all(ids.map((id) => done(index.openKeyCursor(IDBKeyRange.bound([id], [id, []]), 'prev'))));
    heads.cursorPrevPerAggregate = r2(now() - t0);
    t0 = now();
    const tx2 = db.transaction('pages', 'readonly');
    const index2 = tx2.objectStore('pages').index('stream');
    await Promise.all(ids.map((id) => done(index2.getKey(IDBKeyRange.bound([id], [id, []])))));
    heads.getKeyPerAggregate = r2(now() - t0);
  }
  db.close();
  await deleteDb(name);
  out.headReadsForOneBatch = { aggregates: ids.length, ...heads };

  // The alternative: a `heads` store, one get per aggregate, or none with a cached head map.
  const alt = await openRaw(`${dbPrefix}heads`, 'no-indexes');
  let tx = alt.transaction('heads', 'readwrite');
  for (let i = 0; i < 1000; i++) tx.objectStore('heads').put(100, `order-${String(i).padStart(6, '0')}`);
  await committed(tx);
  t0 = now();
  tx = alt.transaction('heads', 'readonly');
  await Promise.all(ids.map((id) => done(tx.objectStore('heads').get(id))));
  out.headsStoreGets = r2(now() - t0);
  t0 = now();
  tx = alt.transaction('heads', 'readonly');
  await done(tx.objectStore('heads').getAll());
  out.headsStoreGetAll1000 = r2(now() - t0);
  alt.close();
  await deleteDb(`${dbPrefix}heads`);
  return out;
}

// ---------------------------------------------------------------- full-replay

async function replayPhases(pages: string[], dbPrefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const name = `${dbPrefix}engine-replay`;
  await deleteDb(name);
  let engine: Engine = await createEngine({ name });
  for (const page of pages) await engine.ingestConfirmed(page);
  await engine.close();
  engine = await createEngine({ name });

  // What scanLog asks of the engine: 4,000 events per call, after the last cursor.
  let after: LogCursor | null = null;
  let calls = 0;
  let returnedPages = 0;
  let chars = 0;
  let t0 = now();
  const all: RawPage[] = [];
  for (;;) {
    const result = await engine.readLog({ after, maxEvents: 4000 });
    calls++;
    returnedPages += result.pages.length;
    for (const p of result.pages) {
      chars += p.json.length;
      all.push(p);
    }
    const last = result.pages[result.pages.length - 1];
    if (result.end || !last) break;
    after = { area: last.area, page: last.page, index: last.count - 1 };
  }
  out.engineReadLogInWorkerMs = r2(now() - t0);
  out.readLogCalls = calls;
  out.pagesReturned = returnedPages;
  out.mbReturned = r2(chars / 1024 / 1024);
  await engine.close();

  // Raw reads of the same pages: 64 per getAll (what readLogPages asks) vs only what is used.
  const db = await done(indexedDB.open(name));
  const rawRead = async (perRead: number): Promise<number> => {
    let lower: IDBValidKey | undefined;
    const start = now();
    for (;;) {
      const tx = db.transaction('pages', 'readonly');
      const range = lower === undefined ? undefined : IDBKeyRange.lowerBound(lower, true);
      const [keys, values] = await Promise.all([
        done(tx.objectStore('pages').getAllKeys(range, perRead)),
        done(tx.objectStore('pages').getAll(range, perRead)),
      ]);
      if (values.length < perRead) break;
      lower = keys[keys.length - 1];
    }
    return r2(now() - start);
  };
  out.rawGetAllMs = { per8: await rawRead(8), per20: await rawRead(20), per64: await rawRead(64) };
  db.close();
  await deleteDb(name);

  // postMessage of what the engine returns, as comlink does (structured clone of the pages).
  const channel = new MessageChannel();
  const received = new Promise<number>((resolve) => {
    channel.port2.onmessage = () => resolve(now());
  });
  t0 = now();
  channel.port1.postMessage(all);
  out.postMessagePagesMs = r2((await received) - t0);
  channel.port1.close();
  channel.port2.close();
  return out;
}

// ---------------------------------------------------------------- append-roundtrip and load

async function appendPhases(dbPrefix: string, count: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const registry = createRegistry({ events: model.events, aggregates: model.aggregates });
  const name = `${dbPrefix}engine-append`;
  await deleteDb(name);
  const engine = await createEngine({ name });
  const times: number[] = [];
  let version = 0;
  for (let i = 0; i < count + 100; i++) {
    const events = registry.encode([{ type: 'ItemAdded', data: { sku: `sku-${i % 50}`, qty: 1, price: 9.99 } }]);
    const t0 = now();
    const outcome = await engine.append({ aggregateId: 'order-roundtrip', aggregateType: 'Order', expectedVersion: version, events });
    if (i >= 100) times.push(now() - t0);
    version = outcome.nextExpectedVersion;
  }
  out.engineAppendInWorkerMedianMs = r2(median(times));
  await engine.close();
  await deleteDb(name);

  // Raw transactions: what one append's transaction does, and leaner shapes of it.
  const db = await openRaw(`${dbPrefix}raw-append`, 'chronicle');
  let tx = db.transaction(['meta', 'pages'], 'readwrite');
  tx.objectStore('meta').put({ nextLsn: 1, nextClientSeq: 1 }, 'client');
  await committed(tx);
  const page = (i: number): RawPageRecord => ({
    json: `[{"id":"0193-${i}","aggregateId":"order-roundtrip","aggregateType":"Order","seq":${i},"type":"ItemAdded","version":2,"data":{"sku":"sku-1","qty":1,"price":9.99},"meta":{"occurredAt":1732000000000,"clientId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","clientSeq":${i}}}]`,
    count: 1,
    stream: [['order-roundtrip', i]],
    id: [`0193-${String(i).padStart(8, '0')}`],
    t0: 0,
    t1: 0,
  });
  let key = 1;
  let generation = 0;
  tx = db.transaction('meta', 'readwrite');
  tx.objectStore('meta').put({ nextLsn: 1, generation }, 'client-speculative');
  await committed(tx);
  const shapes: Record<string, () => Promise<void>> = {
    barePut: async () => {
      const t = db.transaction('pages', 'readwrite');
      t.objectStore('pages').put(page(key), [1, key++]);
      await committed(t);
    },
    getMetaThenPutPageAndMeta: async () => {
      const t = db.transaction(['meta', 'pages'], 'readwrite');
      const meta = (await done(t.objectStore('meta').get('client'))) as { nextLsn: number };
      t.objectStore('pages').put(page(key), [1, key++]);
      meta.nextLsn++;
      t.objectStore('meta').put(meta, 'client');
      await committed(t);
    },
    engineShape: async () => {
      // worker/append.ts: meta get, head cursor, id-range count, then page + meta puts.
      const t = db.transaction(['meta', 'pages'], 'readwrite');
      const pages = t.objectStore('pages');
      const id = `0193-${String(key).padStart(8, '0')}`;
      const [meta] = await Promise.all([
        done(t.objectStore('meta').get('client')) as Promise<{ nextLsn: number }>,
        done(pages.index('stream').openKeyCursor(IDBKeyRange.bound(['order-roundtrip'], ['order-roundtrip', []]), 'prev')),
        done(pages.index('id').count(IDBKeyRange.bound(id, id))),
      ]);
      pages.put(page(key), [1, key++]);
      meta.nextLsn++;
      t.objectStore('meta').put(meta, 'client');
      await committed(t);
    },
    speculativeOneRoundTrip: async () => {
      // The meta read and the writes issued together; the read's callback aborts the
      // transaction if another writer moved the generation (then the engine would retry).
      const t = db.transaction(['meta', 'pages'], 'readwrite');
      const expected = generation;
      const read = t.objectStore('meta').get('client-speculative');
      read.onsuccess = () => {
        if ((read.result as { generation: number } | undefined)?.generation !== expected) t.abort();
      };
      t.objectStore('pages').put(page(key), [1, key++]);
      t.objectStore('meta').put({ nextLsn: key, generation: ++generation }, 'client-speculative');
      await committed(t);
    },
    putPageAndMetaNoReads: async () => {
      const t = db.transaction(['meta', 'pages'], 'readwrite');
      t.objectStore('pages').put(page(key), [1, key++]);
      t.objectStore('meta').put({ nextLsn: key }, 'client');
      await committed(t);
    },
  };
  const medians: Record<string, number> = {};
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(shapes).map((k) => [k, []]));
  for (let round = 0; round < 10; round++) {
    for (const [shape, run] of Object.entries(shapes)) {
      for (let i = 0; i < count / 10; i++) {
        const t0 = now();
        await run();
        if (round > 0 || i >= 10) samples[shape]!.push(now() - t0);
      }
    }
  }
  for (const [shape, values] of Object.entries(samples)) medians[shape] = r2(median(values));
  out.rawTransactionMedianMs = medians;
  db.close();
  await deleteDb(`${dbPrefix}raw-append`);

  // The main-thread share of one append: validate + encode, and decode of the reply.
  const encodeTimes: number[] = [];
  const decodeTimes: number[] = [];
  for (let i = 0; i < 1000; i++) {
    let t0 = now();
    const [encoded] = registry.encode([{ type: 'ItemAdded', data: { sku: 'sku-1', qty: 1, price: 9.99 } }]);
    encodeTimes.push(now() - t0);
    const json = `[{"id":${JSON.stringify(encoded!.id)},"aggregateId":"order-roundtrip","aggregateType":"Order","seq":${i + 1},${encoded!.body.slice(1, -2)},"clientId":"c","clientSeq":${i}}}]`;
    t0 = now();
    for (const e of JSON.parse(json) as StoredEvent[]) registry.decode(e);
    decodeTimes.push(now() - t0);
  }
  out.encodeOneMedianMs = r2(median(encodeTimes));
  out.decodeReplyMedianMs = r2(median(decodeTimes));
  return out;
}

/** Reads for one load with a snapshot at the head: two engine calls today, or one transaction. */
async function loadPhases(name: string, aggregateId: string, rounds: number): Promise<Record<string, unknown>> {
  const engine = await createEngine({ name });
  const snapshot: number[] = [];
  const stream: number[] = [];
  const both: number[] = [];
  const stats: number[] = [];
  for (let i = 0; i < rounds + 5; i++) {
    let t0 = now();
    const snap = await engine.getSnapshot(aggregateId);
    const t1 = now();
    await engine.readStream({ aggregateId, fromSeq: (snap?.seq ?? 0) + 1, toSeq: Infinity, maxPages: 128 });
    const t2 = now();
    await engine.stats();
    const t3 = now();
    if (i >= 5) {
      snapshot.push(t1 - t0);
      stream.push(t2 - t1);
      stats.push(t3 - t2);
    }
    // One readonly transaction holding both reads (what a combined engine call would do).
    const db = await done(indexedDB.open(name));
    t0 = now();
    const tx = db.transaction(['snapshots', 'pages'], 'readonly');
    const snapRead = done(tx.objectStore('snapshots').get(aggregateId)) as Promise<{ seq: number } | undefined>;
    const tail = done(tx.objectStore('pages').index('stream').getAllKeys(IDBKeyRange.bound([aggregateId, 10_001], [aggregateId, Infinity])));
    await Promise.all([snapRead, tail]);
    if (i >= 5) both.push(now() - t0);
    db.close();
  }
  await engine.close();
  return {
    getSnapshotInWorkerMedianMs: r2(median(snapshot)),
    readStreamTailInWorkerMedianMs: r2(median(stream)),
    statsInWorkerMedianMs: r2(median(stats)),
    oneTransactionBothReadsMedianMs: r2(median(both)),
  };
}

const api = {
  echo: <T>(value: T): T => value,
  ingestPhases,
  batchPhases,
  replayPhases,
  appendPhases,
  loadPhases,
};
export type ProfileWorkerApi = typeof api;

Comlink.expose(api);
