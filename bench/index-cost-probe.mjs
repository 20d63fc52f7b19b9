#!/usr/bin/env node
/**
 * node bench/index-cost-probe.mjs: what one commit's index record costs IndexedDB in
 * Chromium, against its pages. In a dedicated worker, on stores shaped like the
 * engine's (pages and pageIndex with multiEntry `stream` and `id` indexes), 100
 * transactions each of: a pageIndex record with 635 `stream` entries (a 1,000-event
 * appendBatch over 635 aggregates), the same without `at`, a 60 KB page into an
 * indexed store and into a store with no index. Prints, per kind, the time in the
 * put call (the worker's thread) and until the transaction completes.
 *
 * Measured 2026-12-03 (2 cores, loaded): the 635-entry record 2.2 ms in put, 14 ms
 * to commit; a 60 KB page 0.17 ms in put, 0.9 ms to commit. So the commit of an
 * appendBatch call waits mostly on its index entries, not its bytes.
 */
import { runWorkerProbe } from './worker-probe.mjs';
const workerJs = `
const open = () => new Promise((res, rej) => { const r = indexedDB.open('x' + Math.random(), 1); r.onupgradeneeded = () => { const db = r.result;
  const pages = db.createObjectStore('pages'); pages.createIndex('stream', 'stream', { multiEntry: true }); pages.createIndex('id', 'id', { multiEntry: true });
  const pi = db.createObjectStore('pageIndex'); pi.createIndex('stream', 'stream', { multiEntry: true }); pi.createIndex('id', 'id', { multiEntry: true });
  db.createObjectStore('plain'); }; r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const uuid = () => crypto.randomUUID();
onmessage = async () => {
  const db = await open();
  const N = 100;
  const stream = Array.from({ length: 635 }, (_, i) => ['order-' + String(i).padStart(5, '0'), 7 + i % 50]);
  const at = stream.map((_, i) => [i, i + 1]);
  const page = { json: '[' + 'x'.repeat(60000) + ']', count: 200, t0: 1, t1: 2 };
  const out = {};
  const time = async (name, store, make) => {
    let js = 0; const t0 = performance.now();
    for (let i = 0; i < N; i++) { const tx = db.transaction([store], 'readwrite'); const s = tx.objectStore(store); const a = performance.now(); s.put(make(i), [1, i]); js += performance.now() - a; await new Promise((r) => (tx.oncomplete = r)); }
    out[name] = { putCallMs: +(js / N).toFixed(3), txMs: +((performance.now() - t0) / N).toFixed(3) };
  };
  for (let round = 0; round < 2; round++) {
    await time('index record (635 stream + at, 1 id run)', 'pageIndex', (i) => ({ stream, id: [[uuid(), uuid()]], last: i + 5, at }));
    await time('index record without at', 'pageIndex', (i) => ({ stream, id: [[uuid(), uuid()]], last: i + 5 }));
    await time('60 KB page into indexed store', 'pages', () => page);
    await time('60 KB page into store with no index', 'plain', () => page);
  }
  postMessage(out);
};`;
console.log(JSON.stringify(await runWorkerProbe(workerJs), null, 1));
