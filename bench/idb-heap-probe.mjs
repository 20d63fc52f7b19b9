#!/usr/bin/env node
/**
 * node bench/idb-heap-probe.mjs: where Chromium puts a value read from
 * IndexedDB. On a blank page on 127.0.0.1 (headless Chromium, CHROMIUM_PATH
 * or /usr/bin/chromium, precise memory info on), for records of 20,000 to
 * 61,000 characters: 60 records written, then read back one `get` at a time in
 * 12 rounds, each value dropped at once; prints the page's used JS heap after
 * each round.
 *
 * If the values were allocated young, the heap would stay near where it
 * started (a young collection frees them). Measured 2026-12-05: it grows by
 * about one round's worth of values per round (1.2 MB a round at 20,000
 * characters) until a full GC, whatever the record's size: Chromium puts
 * them in the old generation. That is the engine worker's share of a
 * replay's heap peak (bench/run.mjs, full-replay-peak-heap), and Dexie's.
 */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const SIZES = [20_000, 40_000, 61_000];
const page = `<script>
window.run = async (size) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open('probe-' + Math.random(), 1);
    open.onupgradeneeded = () => open.result.createObjectStore('pages');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const write = db.transaction('pages', 'readwrite');
  for (let i = 0; i < 60; i++) {
    write.objectStore('pages').put({ json: '[' + String(i).padStart(8, '0') + 'x'.repeat(size - 10) + ']', count: 200 }, i);
  }
  await new Promise((resolve) => (write.oncomplete = resolve));
  const heaps = [];
  for (let round = 0; round < 12; round++) {
    const read = db.transaction('pages');
    let chars = 0;
    for (let i = 0; i < 60; i++) {
      // request.result deserializes the value: a read that never looks at it allocates nothing.
      const value = await new Promise((resolve) => {
        const request = read.objectStore('pages').get(i);
        request.onsuccess = () => resolve(request.result);
      });
      chars += value.json.length;
    }
    if (chars !== 60 * size) throw new Error('a record came back short');
    heaps.push((performance.memory.usedJSHeapSize / 1048576).toFixed(1));
  }
  db.close();
  return heaps.join(' ');
};
</script>`;

const server = createServer((_, response) => {
  response.setHeader('content-type', 'text/html');
  response.end(page);
}).listen(0, '127.0.0.1');
await new Promise((resolve) => server.on('listening', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--enable-precise-memory-info'],
});
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  for (const chars of SIZES) {
    console.log(
      `[probe] records of ${chars} characters, used JS heap (MB) after each of 12 rounds of 60 reads: ${await tab.evaluate((n) => window.run(n), chars)}`,
    );
  }
} finally {
  await browser.close();
  server.close();
}
