#!/usr/bin/env node
// Loads the built extension into headless Chromium and drives its panel against
// a page that exposes a store: service-worker pairing, content-script relay,
// bridge, panel UI, time travel, live appends, re-attach after a reload.
//   node extension/smoke.mjs      (builds extension/dist first)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const extension = fileURLToPath(new URL('.', import.meta.url));
await import('./build.mjs');

const server = await createServer({
  root,
  configFile: false,
  logLevel: 'warn',
  server: { port: 0, host: '127.0.0.1' },
  worker: { format: 'es' },
  optimizeDeps: { include: ['idb', 'comlink', 'zod'] },
});
await server.listen();
const address = server.httpServer.address();
const origin = `http://127.0.0.1:${address.port}`;
const profile = mkdtempSync(join(tmpdir(), 'chronicle-devtools-smoke-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--headless=new', `--disable-extensions-except=${extension}`, `--load-extension=${extension}`],
});
const step = (what) => console.log(`ok  ${what}`);
try {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 15_000 }));
  const id = new URL(worker.url()).host;
  step(`extension loaded (${id})`);
  const page = context.pages()[0] ?? (await context.newPage());
  const exposed = () => page.waitForFunction(() => document.getElementById('out')?.textContent === 'exposed', null, { timeout: 30_000 });
  await page.goto(`${origin}/extension/smoke/index.html`);
  await exposed();
  const tabId = await worker.evaluate(async () => (await chrome.tabs.query({}))[0].id);
  const panel = await context.newPage();
  panel.on('pageerror', (error) => console.error('panel error:', error.message));
  // The panel page outside devtools, pointed at the tab (panel.html?tab=<id>).
  await panel.goto(`chrome-extension://${id}/panel.html?tab=${tabId}`);
  const ready = (total) =>
    panel.locator(`[data-testid="chronicle-devtools"][data-state="ready"][data-total="${total}"]`).waitFor({ timeout: 15_000 });
  await ready(2);
  step('panel lists the page log over the bridge');
  await panel.getByTestId('devtools-row').nth(1).click();
  await panel.getByTestId('devtools-state-after').filter({ hasText: 'total: 10' }).waitFor({ timeout: 10_000 });
  step('state after an event');
  await panel.getByTestId('devtools-first').click();
  await page.waitForFunction(() => window.smokeStore.timeTravel.position() !== null, null, { timeout: 10_000 });
  await panel.getByTestId('devtools-resume').click();
  await page.waitForFunction(() => window.smokeStore.timeTravel.position() === null, null, { timeout: 10_000 });
  step('time travel on the page store, and resume');
  await page.evaluate(() => window.smokeStore.append('o2', [{ type: 'OrderPlaced', data: { customerId: 'bob' } }]));
  await ready(3);
  step('live append');
  await page.reload();
  await exposed();
  await ready(2);
  step('re-attached after a page reload');
} finally {
  await context.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
