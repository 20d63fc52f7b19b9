/**
 * What the stand-alone IndexedDB probes (index-cost-probe.mjs,
 * commit-early-probe.mjs) share: serve `workerJs` as a dedicated worker of a
 * blank page on 127.0.0.1, cross-origin isolated (so performance.now() is
 * precise there, as in the bench), open it in headless Chromium
 * (CHROMIUM_PATH or /usr/bin/chromium), post the worker one message and
 * return what it posts back.
 *
 * IndexedDB is on disk (a fresh profile directory, removed afterwards), as in
 * `bench/run.mjs` since 2026-12-07; `--in-memory` on the command line runs in an
 * off-the-record context instead, as every probe before then did.
 */
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export async function runWorkerProbe(workerJs) {
  const html = `<script>const w = new Worker('/w.js'); w.onmessage = (e) => { window.result = e.data; }; w.postMessage(1);</script>`;
  const server = createServer((req, res) => {
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('cross-origin-embedder-policy', 'require-corp');
    res.setHeader('content-type', req.url === '/w.js' ? 'text/javascript' : 'text/html');
    res.end(req.url === '/w.js' ? workerJs : html);
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.on('listening', resolve));
  const launch = { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] };
  const inMemory = process.argv.includes('--in-memory');
  const profileDir = inMemory ? undefined : await mkdtemp(join(tmpdir(), 'chronicle-probe-profile-'));
  console.error(`[probe] IndexedDB ${profileDir ? `on disk in ${profileDir}` : 'in memory'}`);
  const browser = profileDir ? undefined : await chromium.launch(launch);
  const context = browser ? await browser.newContext() : await chromium.launchPersistentContext(profileDir, launch);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.result, null, { timeout: 120000 });
    return await page.evaluate(() => window.result);
  } finally {
    await context.close();
    await browser?.close();
    server.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  }
}
