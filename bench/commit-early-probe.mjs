#!/usr/bin/env node
/**
 * node bench/commit-early-probe.mjs: what IDBTransaction.commit() saves a small
 * transaction in Chromium (worker/commit-early.ts), and how much of a
 * transaction is the worker's own time spent queuing its requests. In a
 * dedicated worker with cross-origin isolation (precise timers), 3 rounds of
 * 400 transactions of each kind, median per round, until `oncomplete`
 * ("total"), and from before `transaction()` until its last request is queued
 * ("queuing": IndexedDB's calls are synchronous on the calling thread, each a
 * structured clone and a message to the browser's IndexedDB):
 * - bare: one put into a store with no index (append-roundtrip's baseline);
 * - append: the engine's single-append shape: a meta get, a one-event page with its
 *   `stream` and `id` index entries, a meta put, over two stores, auto-committed;
 * - append, commit after the meta read: the same, commit() in the get's success
 *   handler (what the engine does: it checks meta there first);
 * - append, commit at once: commit() right after the requests are queued (what a
 *   load at a known head does);
 * - page put alone (indexed store): the page with its index entries, nothing else;
 * - page + meta puts, no read, at once: the append's writes without its meta read.
 *
 * Measured 2026-12-03 (2 cores, three runs): bare 0.37-0.61 ms, append 0.60-0.79,
 * commit after the meta read 0.47-0.68, commit at once 0.45-0.59. On 2026-12-04
 * at night (two runs), queuing: bare 0.055-0.095 ms of 0.38-0.85, the engine's
 * shape 0.10-0.22 ms of 0.51-0.59 (commit after the meta read): its four requests
 * over two stores cost the worker about twice a bare put's one.
 */
import { runWorkerProbe } from './worker-probe.mjs';
const workerJs = `
const open = (name, upgrade) => new Promise((res, rej) => { const r = indexedDB.open(name + Math.random(), 1); r.onupgradeneeded = () => upgrade(r.result); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const done = (tx) => new Promise((res, rej) => { tx.oncomplete = res; tx.onabort = () => rej(tx.error); });
const page = (i) => ({ json: '[["0193' + String(i).padStart(28, '0') + '","order-1","Order",' + i + ',"ItemAdded",2,{"sku":"sku-1","qty":1,"price":9.99},1733250000000,"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",' + i + ',0]]', count: 1, t0: 1, t1: 1, stream: [['order-1', i]], id: ['0193' + i] });
const engineShape = (db) => { const s = db.createObjectStore('pages'); s.createIndex('stream', 'stream', { multiEntry: true }); s.createIndex('id', 'id', { multiEntry: true }); db.createObjectStore('meta'); };
onmessage = async () => {
  const bare = await open('bare', (db) => db.createObjectStore('events'));
  const engine = await open('engine', engineShape);
  const meta = { clientId: 'c', nextClientSeq: 1, nextLsn: 1, pendingEvents: 0, confirmedEvents: 0, confirmedHead: 0, generation: 0 };
  let queuedAt = 0;
  const append = (i, commit) => {
    const tx = engine.transaction(['pages', 'meta'], 'readwrite');
    const metaStore = tx.objectStore('meta');
    const read = metaStore.get('client');
    tx.objectStore('pages').put(page(i), [1, i]);
    meta.generation++;
    metaStore.put(meta, 'client');
    if (commit === 'after-read') read.onsuccess = () => tx.commit();
    if (commit === 'at-once') tx.commit();
    queuedAt = performance.now();
    return done(tx);
  };
  const kinds = {
    bare: (i) => { const tx = bare.transaction('events', 'readwrite'); tx.objectStore('events').put(page(i), i); queuedAt = performance.now(); return done(tx); },
    append: (i) => append(i, 'auto'),
    'append, commit after the meta read': (i) => append(i, 'after-read'),
    'append, commit at once': (i) => append(i, 'at-once'),
    'page put alone (indexed store)': (i) => { const tx = engine.transaction(['pages'], 'readwrite'); tx.objectStore('pages').put(page(i), [1, i]); tx.commit(); queuedAt = performance.now(); return done(tx); },
    'page + meta puts, no read, at once': (i) => { const tx = engine.transaction(['pages', 'meta'], 'readwrite'); tx.objectStore('pages').put(page(i), [1, i]); meta.generation++; tx.objectStore('meta').put(meta, 'client'); tx.commit(); queuedAt = performance.now(); return done(tx); },
  };
  const out = {};
  let key = 1;
  const median = (list) => +list.sort((a, b) => a - b)[list.length >> 1].toFixed(3);
  for (let round = 0; round < 3; round++) {
    for (const [name, run] of Object.entries(kinds)) {
      const times = [];
      const queuing = [];
      for (let i = 0; i < 400; i++) { const t0 = performance.now(); await run(key++); times.push(performance.now() - t0); queuing.push(queuedAt - t0); }
      const kind = (out[name] ??= { total: [], queuing: [] });
      kind.total.push(median(times));
      kind.queuing.push(median(queuing));
    }
  }
  postMessage(out);
};`;
console.log('median ms per transaction, per round (total until oncomplete; queuing its requests on the worker):');
for (const [name, kind] of Object.entries(await runWorkerProbe(workerJs))) {
  console.log(`${name.padEnd(36)} total ${kind.total.join(' / ')}   queuing ${kind.queuing.join(' / ')}`);
}
