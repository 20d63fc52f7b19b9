#!/usr/bin/env node
/**
 * node bench/out-of-line-probe.mjs [--in-memory]: what a page's size does to
 * IndexedDB's write and read time in Chromium around its 64 KiB out-of-line
 * threshold (a value whose serialized form is larger is stored in a blob file
 * of its own instead of in LevelDB). Each kind writes the same 12.3 M
 * characters of page-like JSON as pages of one size, in one transaction, then
 * reopens the database and reads them back with one `get` per page, 16 in
 * flight per transaction (as worker/page-store.ts `readPages` does); 3 rounds,
 * milliseconds per round. A two-byte string (any character above U+00FF)
 * serializes at 2 bytes per character, so 60K characters of it are out of line.
 *
 * Measured 2026-12-07 on disk (2 cores): 60K one-byte pages read in 37–71 ms,
 * 63K in 40–47, 66K in 12–28, 80K in 15–32, 120K in 12–19; two-byte 60K pages
 * (out of line) 27–41, two-byte 30K (in line) 77–99. Written: 60K one-byte
 * 75–260 ms, 66K–120K 53–70. In memory (--in-memory) the sizes read alike
 * (32–91 ms): the difference is LevelDB's on disk. Hence MAX_PAGE_CHARS
 * (worker/page-builder.ts) puts full pages just past the threshold.
 */
import { runWorkerProbe } from './worker-probe.mjs';

const workerJs = `
const TOTAL_CHARS = 200 * 60 * 1024;
const kinds = {
  'one-byte 60K chars': [60 * 1024, false],
  'one-byte 63K chars': [63 * 1024, false],
  'one-byte 66K chars': [66 * 1024, false],
  'one-byte 80K chars': [80 * 1024, false],
  'one-byte 120K chars': [120 * 1024, false],
  'two-byte 30K chars': [30 * 1024, true],
  'two-byte 60K chars': [60 * 1024, true],
};
const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
const open = (name, upgrade) => { const r = indexedDB.open(name, 1); if (upgrade) r.onupgradeneeded = () => r.result.createObjectStore('pages'); return request(r); };
const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = () => reject(tx.error); });
/** Page-like JSON of exactly \`chars\` characters; two-byte text when asked. */
const pageJson = (chars, twoByte, i) => {
  const unit = twoByte ? '{"sku":"商品-' : '{"sku":"item-';
  let json = '';
  while (json.length < chars) json += unit + i + '-' + json.length + '"},';
  return json.slice(0, chars);
};
onmessage = async () => {
  const out = {};
  for (let round = 0; round < 3; round++) {
    for (const [kind, [chars, twoByte]] of Object.entries(kinds)) {
      const count = Math.round(TOTAL_CHARS / chars);
      const name = 'out-of-line-probe-' + round + '-' + kind;
      const db = await open(name, true);
      const tx = db.transaction('pages', 'readwrite');
      const t0 = performance.now();
      for (let i = 0; i < count; i++) tx.objectStore('pages').put({ json: pageJson(chars, twoByte, i), count: 100 }, i);
      await done(tx);
      const write = performance.now() - t0;
      db.close();
      const reopened = await open(name, false);
      const t1 = performance.now();
      let read = 0;
      for (let first = 0; first < count; first += 16) {
        const store = reopened.transaction('pages').objectStore('pages');
        const keys = Array.from({ length: Math.min(16, count - first) }, (_, j) => first + j);
        for (const page of await Promise.all(keys.map((key) => request(store.get(key))))) read += page.json.length;
      }
      if (read !== count * chars) throw new Error(kind + ': read ' + read + ' characters, wrote ' + count * chars);
      (out[kind] ??= []).push({ write: +write.toFixed(1), read: +(performance.now() - t1).toFixed(1) });
      reopened.close();
      await request(indexedDB.deleteDatabase(name));
    }
  }
  postMessage(out);
};`;

console.log('ms per round to write and to read the same 12.3 M characters as pages of one size:');
for (const [kind, rounds] of Object.entries(await runWorkerProbe(workerJs))) {
  console.log(
    `${kind.padEnd(22)} write ${rounds
      .map((r) => r.write)
      .join(' / ')
      .padEnd(24)} read ${rounds.map((r) => r.read).join(' / ')}`,
  );
}
