/**
 * The page side of bench/encryption-bench.ts: stores opened in the bench page
 * (engine in a Web Worker) that pull, replay or push the same events with and
 * without end-to-end encryption. Loaded on demand by encryption-bench.ts
 * (`import('/bench/encryption-page.ts')` in the page); registers
 * `window.chronicleEncryptionBench`.
 */
import { openStore, uuidv7, type BatchEntry, type Keyring, type StoredEvent, type SyncOptions } from '../src/client/index.ts';
import { importKeyring, openEvent, sealEvent } from '../src/core/encryption.ts';
import { aggregateIdOf, orderEvent, prng, type OrderEventBody } from './data.ts';
import { foldSummary, initialSummary, model, Order, type LogSummary } from './model.ts';

const now = (): number => performance.now();
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export const ENC_DB_PREFIX = 'chronicle-bench-enc-';

export interface EncTarget {
  url: string;
  log: string;
  token: string;
  /** Events the server holds (initial sync) or the store pushes (push). */
  events: number;
  pageSize: number;
  /** Raw AES-GCM key bytes; absent: no encryption. */
  key?: number[];
}

function syncOptions(target: EncTarget): SyncOptions {
  const base: SyncOptions = {
    url: target.url,
    log: target.log,
    token: target.token,
    pullLimit: target.pageSize,
    live: false,
    pollIntervalMs: 600_000,
  };
  if (!target.key) return base;
  const keyring: Keyring = { current: 'bench-k1', keys: { 'bench-k1': new Uint8Array(target.key) } };
  return { ...base, encryption: { keys: keyring } };
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => setTimeout(resolve, 100);
  });
}

type SyncedStore = Awaited<ReturnType<typeof openStore<typeof model.events, typeof model.aggregates>>>;

/** Resolves when the store's sync has confirmed `position` and nothing is pending; rejects on a sync error. */
function until(store: SyncedStore, position: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      stop();
      clearInterval(poll);
      clearTimeout(timeout);
      if (error) reject(error);
      else resolve();
    };
    const seen = (status: Awaited<ReturnType<SyncedStore['sync']['status']>>): void => {
      if (status.confirmedPosition >= position && status.pending === 0) finish();
      else if (status.state === 'error') finish(new Error(`sync failed: ${JSON.stringify(status.lastError)}`));
    };
    const stop = store.sync.subscribe(seen);
    const poll = setInterval(() => void store.sync.status().then(seen, (e: unknown) => finish(e as Error)), 25);
    const timeout = setTimeout(() => finish(new Error('sync stalled for 180 s')), 180_000);
  });
}

async function replay(store: SyncedStore): Promise<{ ms: number; summary: LogSummary; processed: number }> {
  let summary = initialSummary();
  const t0 = now();
  const result = await store.replay({
    handler: (event) => {
      summary = foldSummary(summary, event);
    },
  });
  return { ms: round(now() - t0), summary, processed: result.processed };
}

/**
 * A fresh store pulls the whole log: timed from openStore until every server
 * position is stored. Then (timed apart) a full replay of what it stored.
 */
async function initialSync(target: EncTarget): Promise<{ ms: number; replayMs: number; summary: LogSummary; count: number }> {
  const name = `${ENC_DB_PREFIX}sync`;
  await deleteDatabase(name);
  const t0 = now();
  const store = await openStore({ name, ...model, sync: syncOptions(target) });
  try {
    if (!store.inWorker) throw new Error('the store must run its engine in a Web Worker');
    await until(store, target.events);
    const ms = now() - t0;
    const info = await store.info();
    if (info.confirmedEvents !== target.events) throw new Error(`the store holds ${info.confirmedEvents} of ${target.events} events`);
    const replayed = await replay(store);
    if (replayed.processed !== target.events) throw new Error(`replay handled ${replayed.processed} of ${target.events}`);
    return { ms: round(ms), replayMs: replayed.ms, summary: replayed.summary, count: info.confirmedEvents };
  } finally {
    await store.close();
    await deleteDatabase(name);
  }
}

/**
 * `target.events` events appended locally (a store without sync, 1,000 per
 * appendBatch call), then the store reopened with sync: timed from openStore
 * until the server confirmed every one (pushes of 500, each followed by the
 * pull that confirms it, as the engine does).
 */
async function push(target: EncTarget): Promise<{ ms: number; appendMs: number }> {
  const name = `${ENC_DB_PREFIX}push`;
  await deleteDatabase(name);
  const random = prng(7);
  const aggregates = Math.max(1, Math.round(target.events / 20));
  const local = await openStore({ name, ...model });
  const t0 = now();
  for (let from = 0; from < target.events; from += 1000) {
    const byAggregate = new Map<string, BatchEntry<OrderEventBody>>();
    for (let i = from; i < Math.min(from + 1000, target.events); i++) {
      const a = i % aggregates;
      const seq = Math.floor(i / aggregates) + 1;
      let entry = byAggregate.get(aggregateIdOf(a));
      if (!entry) byAggregate.set(aggregateIdOf(a), (entry = { aggregateId: aggregateIdOf(a), events: [], options: { aggregate: Order } }));
      entry.events.push(orderEvent(random, a, seq, 20));
    }
    await local.appendBatch([...byAggregate.values()] as Parameters<typeof local.appendBatch>[0]);
  }
  const appendMs = now() - t0;
  await local.close();

  const t1 = now();
  const store = await openStore({ name, ...model, sync: syncOptions(target) });
  try {
    await until(store, target.events);
    return { ms: round(now() - t1), appendMs: round(appendMs) };
  } finally {
    await store.close();
    await deleteDatabase(name);
  }
}

/**
 * The crypto alone, on the page's thread: `count` events of the pulled log's
 * shape sealed, then opened, with Chronicle's own functions (what the engine
 * does per event in its worker), in batches of 1,000 like a pull page.
 */
async function cryptoCost(count: number): Promise<{ sealUs: number; openUs: number }> {
  const ring = await importKeyring({ current: 'k1', keys: { k1: new Uint8Array(32).fill(5) } }, 'bench');
  const key = { id: 'k1', key: ring.keys.get('k1')! };
  const random = prng(11);
  const events: StoredEvent[] = Array.from({ length: count }, (_, i) => {
    const body = orderEvent(random, i % 1000, 2 + (i % 50), 100);
    return {
      id: uuidv7(1_732_000_000_000 + i),
      aggregateId: aggregateIdOf(i % 1000),
      aggregateType: 'Order',
      seq: 2 + (i % 50),
      type: body.type,
      version: body.type === 'ItemAdded' ? 2 : 1,
      data: body.data,
      meta: { occurredAt: 1_732_000_000_000 + i, clientId: 'bench-client', clientSeq: i + 1 },
    };
  });
  const sealed: StoredEvent[] = [];
  let t0 = now();
  for (let i = 0; i < count; i += 1000)
    sealed.push(...(await Promise.all(events.slice(i, i + 1000).map((e) => sealEvent(e, 'bench', key)))));
  const sealMs = now() - t0;
  t0 = now();
  for (let i = 0; i < count; i += 1000)
    await Promise.all(sealed.slice(i, i + 1000).map((e) => openEvent(e, 'bench', (kid) => ring.keys.get(kid))));
  const openMs = now() - t0;
  return { sealUs: round((sealMs * 1000) / count, 1), openUs: round((openMs * 1000) / count, 1) };
}

const api = { initialSync, push, cryptoCost };
export type EncryptionBenchApi = typeof api;

declare global {
  interface Window {
    chronicleEncryptionBench?: EncryptionBenchApi;
  }
}

window.chronicleEncryptionBench = api;
