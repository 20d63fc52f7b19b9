/**
 * End to end: the order-entry demo (demo/) served by the same code as
 * `npm run demo` (sync server on PGlite in a temp dir + Vite), driven in
 * headless Chromium with playwright-core. Two browser contexts are two
 * devices with their own IndexedDB.
 *
 * Screenshots go to test-results/e2e/ (gitignored).
 */
import 'fake-indexeddb/auto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../../demo/server.ts';
import { Order } from '../../demo/src/model.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../setup/chromium.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = join(repoRoot, 'test-results/e2e');
const shot = (name: string) => join(SHOTS, name);

/**
 * Whether the demo mounts the devtools panel (package export "chronicle/devtools", src/devtools/):
 * until it does, the drawer shows a placeholder and the time-travel test is skipped.
 */
const HAS_DEVTOOLS =
  existsSync(join(repoRoot, 'src/devtools/index.ts')) &&
  /^import\s[^\n]*from 'chronicle\/devtools';/m.test(readFileSync(join(repoRoot, 'demo/src/DevtoolsDrawer.tsx'), 'utf8'));

let demo: DemoServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  [demo, browser] = await Promise.all([
    startDemo({ port: 0, syncPort: 0, verbose: false, cacheDir: join(repoRoot, 'node_modules/.vite/demo-e2e') }),
    chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS }),
  ]);
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await demo?.close();
});

// ------------------------------------------------------------------ helpers

async function openDevice(viewport = { width: 1280, height: 820 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[page error]', error.message));
  await page.goto(demo.appUrl);
  await synced(page);
  return page;
}

const syncState = (page: Page) => page.getByTestId('sync-state');

/**
 * Online, nothing pending: everything this device wrote is confirmed by the server.
 * The badge is what a user sees, but it updates a step after each change and may
 * still show the last round's state; the engine's own status is read from its
 * storage, so both are waited for.
 */
async function synced(page: Page, timeout = 20_000) {
  await page
    .locator('[data-testid="sync-state"][data-state="online"] [data-testid="pending-count"][data-count="0"]')
    .waitFor({ timeout, state: 'attached' }); // narrow layouts hide the count's text
  await page.waitForFunction(
    async () => {
      const status = await window.chronicleDemo!.store.sync.status();
      return status.state === 'online' && status.pending === 0;
    },
    undefined,
    { timeout, polling: 50 },
  );
}

async function openOrder(page: Page, customer: string): Promise<string> {
  const detail = page.locator(`[data-testid="order-detail"]:not([data-status="missing"])`);
  // The order shown before, if any: until the app shows the new one, that detail is still there and would pass for it.
  const previous = (await detail.count()) > 0 ? await detail.getAttribute('data-id') : null;
  await page.getByTestId('new-order-customer').fill(customer);
  await page.getByTestId('new-order-submit').click();
  let id: string | null = null;
  await expect
    .poll(async () => {
      id = (await detail.count()) > 0 ? await detail.getAttribute('data-id') : null;
      return id !== null && id !== previous;
    })
    .toBe(true);
  expect(id).toMatch(/^order-/);
  return id!;
}

async function selectOrder(page: Page, id: string) {
  await page.locator(`[data-testid="order-row"][data-id="${id}"]`).click();
  await page.locator(`[data-testid="order-detail"][data-id="${id}"]`).waitFor();
}

/** Adds a product; waits until the order's version moved, so the next action sees the new state. */
async function addItem(page: Page, sku: string, qty: number) {
  const detail = page.getByTestId('order-detail');
  const before = Number(await detail.getAttribute('data-version'));
  await page.getByTestId('add-item-product').selectOption(sku);
  await page.getByTestId('add-item-qty').fill(String(qty));
  await page.getByTestId('add-item-submit').click();
  await expect.poll(async () => Number(await detail.getAttribute('data-version'))).toBeGreaterThan(before);
}

async function clickAndWait(page: Page, testId: string) {
  const detail = page.getByTestId('order-detail');
  const before = Number(await detail.getAttribute('data-version'));
  await page.getByTestId(testId).click();
  await expect.poll(async () => Number(await detail.getAttribute('data-version'))).toBeGreaterThan(before);
}

const totalCents = async (page: Page) => Number(await page.getByTestId('order-total').getAttribute('data-cents'));
const status = (page: Page) => page.getByTestId('order-detail').getAttribute('data-status');

async function setSwitch(page: Page, online: boolean) {
  const toggle = page.getByTestId('network-switch');
  if ((await toggle.getAttribute('aria-checked')) !== String(online)) await toggle.click();
  await expect.poll(() => toggle.getAttribute('aria-checked')).toBe(String(online));
}

/** The confirmed log as this device holds it: position, id, stream, seq, type, data. */
function confirmedLog(page: Page) {
  return page.evaluate(async () => {
    const out: string[] = [];
    for await (const e of window.chronicleDemo!.store.readLog({ status: 'confirmed' })) {
      out.push(JSON.stringify([e.position, e.id, e.aggregateId, e.seq, e.type, e.data]));
    }
    return out;
  });
}

function exportLog(page: Page) {
  return page.evaluate(async () => {
    const lines: string[] = [];
    for await (const line of window.chronicleDemo!.store.exportLog()) lines.push(line);
    return lines;
  });
}

// ------------------------------------------------------------------ tests

describe('order-entry demo in Chromium', () => {
  let a: Page;
  let b: Page;
  let paidOrder: string;
  let sharedOrder: string;

  it('two devices go offline, edit the same orders, come back and converge', async () => {
    [a, b] = await Promise.all([openDevice(), openDevice()]);

    // Device A opens two orders online; B sees them over the live channel.
    paidOrder = await openOrder(a, 'Grace Hopper');
    await addItem(a, 'TEA-EG', 2);
    await addItem(a, 'CUP-ST', 1);
    await clickAndWait(a, 'action-place');
    sharedOrder = await openOrder(a, 'Alan Turing');
    await addItem(a, 'TEA-SE', 1);
    await synced(a);
    await a.screenshot({ path: shot('demo-desktop.png') });

    await b.locator(`[data-testid="order-row"][data-id="${sharedOrder}"]`).waitFor();
    await selectOrder(b, paidOrder);
    await expect.poll(() => totalCents(b)).toBe(2 * 650 + 1200);
    expect(await status(b)).toBe('placed');
    await expect.poll(() => confirmedLog(b)).toEqual(await confirmedLog(a));

    // A loses the network (the app's switch follows the browser); B flips the switch.
    await a.context().setOffline(true);
    await expect.poll(() => a.getByTestId('network-switch').getAttribute('aria-checked')).toBe('false');
    await setSwitch(b, false);
    await expect.poll(() => syncState(a).getAttribute('data-state')).toBe('paused');
    await expect.poll(() => syncState(b).getAttribute('data-state')).toBe('paused');

    // Offline, both edit the same orders.
    await selectOrder(a, paidOrder);
    await addItem(a, 'POT-GL', 1); // A adds a teapot to the placed order…
    await clickAndWait(b, 'action-pay'); // …while B takes the payment.
    expect(await status(b)).toBe('paid');
    await selectOrder(a, sharedOrder);
    await addItem(a, 'HON-WF', 2);
    await selectOrder(b, sharedOrder);
    await addItem(b, 'INF-SS', 3);
    // The count is read from the log after each change notice, a step after the order's
    // version moves, so it is polled rather than read once.
    await expect.poll(() => a.getByTestId('pending-count').getAttribute('data-count')).toBe('2');
    await expect.poll(() => b.getByTestId('pending-count').getAttribute('data-count')).toBe('2');
    await a.getByTestId('order-pending').waitFor();

    // B comes back first: its edits reach the server as they are.
    await setSwitch(b, true);
    await synced(b);
    // Then A: its teapot meets a paid order (the rebase rule rejects it); its honey
    // is kept, re-sequenced after B's infuser.
    await a.context().setOffline(false);
    await expect.poll(() => a.getByTestId('network-switch').getAttribute('aria-checked')).toBe('true');
    await synced(a);
    await synced(b);

    // A sees what happened to each of its changes, next to the order concerned.
    await selectOrder(a, sharedOrder);
    const rebased = a.locator('[data-testid="notice"][data-kind="rebased"]');
    await rebased.waitFor();
    expect(await rebased.textContent()).toContain('add 2 × Wildflower honey, 500 g');
    await selectOrder(a, paidOrder);
    const rejected = a.locator('[data-testid="notice"][data-kind="rejected"]');
    await rejected.waitFor();
    expect(await rejected.textContent()).toMatch(/add 1 × Glass teapot, 1 l.*was rejected: the order was paid meanwhile/);
    await a.screenshot({ path: shot('demo-conflict.png') });

    // Same orders, same totals, same log on both devices.
    await expect.poll(() => totalCents(a)).toBe(2 * 650 + 1200);
    expect(await status(a)).toBe('paid');
    await selectOrder(b, paidOrder);
    await expect.poll(() => totalCents(b)).toBe(2 * 650 + 1200);
    expect(await status(b)).toBe('paid');
    for (const page of [a, b]) {
      await selectOrder(page, sharedOrder);
      await expect.poll(() => totalCents(page)).toBe(890 + 3 * 475 + 2 * 950);
    }
    // Revenue is the paid order's 25 € once each device's projection has caught up.
    for (const page of [a, b]) await expect.poll(() => page.getByTestId('stat-revenue').textContent()).toBe('€25.00');
    await expect.poll(async () => (await confirmedLog(a)).length).toBe(9);
    await expect.poll(() => confirmedLog(b)).toEqual(await confirmedLog(a));
    const log = await confirmedLog(a);
    expect(log).toHaveLength(9); // 4 + 2 events before going offline; then B's payment and infuser, A's honey; not A's teapot
    expect(log.some((line) => line.includes('POT-GL'))).toBe(false);

    // And the same on a narrow phone screen.
    await a.setViewportSize({ width: 360, height: 780 });
    await a.screenshot({ path: shot('demo-mobile-360.png'), fullPage: true });
    const overflow = await a.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await a.setViewportSize({ width: 1280, height: 820 });
  });

  it.skipIf(!HAS_DEVTOOLS)('the devtools panel travels back: the app shows the older state, then the head on resume', async () => {
    await a.setViewportSize({ width: 1280, height: 1100 });
    await selectOrder(a, paidOrder);
    await a.getByTestId('devtools-toggle').click();
    const panel = a.getByTestId('chronicle-devtools');
    await panel.waitFor();
    await a.locator('[data-testid="devtools-row"]').first().waitFor();

    // Back to the first event: only this order was opened, with no items yet; the app is read-only.
    await a.getByTestId('devtools-first').click();
    await a.getByTestId('travel-banner').waitFor();
    await expect.poll(() => totalCents(a)).toBe(0);
    expect(await status(a)).toBe('draft');
    await expect.poll(() => a.getByTestId('order-row').count()).toBe(1);
    expect(await a.getByTestId('new-order-submit').isDisabled()).toBe(true);
    expect(await a.getByTestId('add-item-submit').count()).toBe(0);
    // One step on: the first item is in.
    await a.getByTestId('devtools-next').click();
    await expect.poll(() => totalCents(a)).toBe(2 * 650);
    await a.screenshot({ path: shot('devtools-time-travel.png') });

    // Resume: the head again, editable.
    await a.getByTestId('devtools-resume').click();
    await a.getByTestId('travel-banner').waitFor({ state: 'detached' });
    await expect.poll(() => totalCents(a)).toBe(2 * 650 + 1200);
    expect(await status(a)).toBe('paid');
    await expect.poll(() => a.getByTestId('order-row').count()).toBe(2);
    await a.getByTestId('action-ship').waitFor();
    await a.getByTestId('devtools-drawer').screenshot({ path: shot('devtools-panel.png') });

    // The panel's export is the store's log as NDJSON.
    const [download] = await Promise.all([a.waitForEvent('download'), a.getByTestId('devtools-export').click()]);
    const file = await readFile((await download.path())!, 'utf8');
    expect(file.trimEnd().split('\n')).toEqual(await exportLog(a));

    await a.getByTestId('devtools-toggle').click();
    await panel.waitFor({ state: 'detached' });
    await a.setViewportSize({ width: 1280, height: 820 });
  });

  it('an export imported into a scratch store equals the source log', async () => {
    const exported = await exportLog(a);
    expect(exported).toHaveLength(9);
    const scratch = await openTestStore({ aggregates: [Order], worker: false });
    try {
      const result = await scratch.importLog(exported.join('\n'));
      expect(result.confirmed + result.pending).toBe(exported.length);
      const again: string[] = [];
      for await (const line of scratch.exportLog()) again.push(line);
      expect(again).toEqual(exported);
      const order = await scratch.load(Order, paidOrder);
      expect(order.state.total).toBe(2 * 650 + 1200);
      expect(order.state.status).toBe('paid');
    } finally {
      await scratch.dispose();
    }
  });

  it('the app imports only the package’s public entry points (and its own libraries)', async () => {
    const allowed = new Set(['chronicle', 'chronicle/react', 'chronicle/devtools', 'react', 'react-dom/client', 'zod', 'dexie']);
    const dir = join(repoRoot, 'demo/src');
    const seen = new Set<string>();
    for (const file of await readdir(dir)) {
      const text = await readFile(join(dir, file), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) seen.add(m[1]!);
      for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) seen.add(m[1]!);
    }
    const outside = [...seen].filter((s) => !s.startsWith('./') && !allowed.has(s));
    expect(outside).toEqual([]);
    expect(seen).toContain('chronicle');
    expect(seen).toContain('chronicle/react');
  });

  it('the offline switch is the store’s, in every tab: another tab shows it, and one that opens does not undo it', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const [a, b] = [await context.newPage(), await context.newPage()];
    await a.goto(`${demo.appUrl}?device=switch`);
    await synced(a); // the tab that syncs; the other stands by
    await b.goto(`${demo.appUrl}?device=switch`);
    await b.getByTestId('new-order-customer').waitFor();
    const switchOf = (page: Page) => page.getByTestId('network-switch');
    await switchOf(a).click();
    await expect.poll(() => switchOf(a).getAttribute('aria-checked')).toBe('false');
    await expect.poll(() => switchOf(b).getAttribute('aria-checked')).toBe('false');
    // A tab opened (or reloaded) meanwhile changes nothing: edits stay on the device.
    await b.reload();
    await b.getByTestId('new-order-customer').waitFor();
    await openOrder(a, 'While offline');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await a.evaluate(() => window.chronicleDemo!.store.sync.status())).toMatchObject({ state: 'paused', pending: 1 });
    await switchOf(a).click();
    await synced(a);
  });

  it('loads offline after one visit: a reload without the network shows the app, and the edits sync once it is back', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${demo.appUrl}?device=offline-reload`);
    await synced(page);
    // The service worker has kept what the first visit loaded (demo/public/sw.js, main.tsx).
    await page.locator('html[data-offline-ready="true"]').waitFor({ state: 'attached', timeout: 20_000 });
    await context.setOffline(true);
    await page.reload();
    await page.getByTestId('new-order-customer').waitFor({ timeout: 20_000 });
    const id = await openOrder(page, 'Reloaded offline');
    expect(await page.evaluate(() => window.chronicleDemo!.store.sync.status())).toMatchObject({ pending: 1 });
    await context.setOffline(false);
    await synced(page);
    await expect.poll(() => page.locator(`[data-testid="order-row"][data-id="${id}"]`).count()).toBe(1);
  });

  it('exposes its store to the browser extension: a panel’s hello gets the store’s announce', async () => {
    const page = await openDevice();
    const announced = await page.evaluate(
      () =>
        new Promise<unknown>((resolve) => {
          addEventListener('message', (event: MessageEvent<{ from?: string; type?: string; store?: string }>) => {
            if (event.data?.from === 'page' && event.data.type === 'announce') resolve(event.data.store);
          });
          // What the extension's content script relays from its panel (src/devtools/bridge.ts).
          postMessage({ channel: 'chronicle-devtools@1', from: 'panel', type: 'hello' }, '*');
          setTimeout(() => resolve(null), 5_000);
        }),
    );
    expect(announced).toBe(await page.evaluate(() => window.chronicleDemo!.store.name));
  });

  it('serves the app config and the sync server health', async () => {
    const config = (await (await fetch(new URL('/config.json', demo.appUrl))).json()) as { syncUrl: string; log: string };
    expect(config).toMatchObject({ syncUrl: demo.syncUrl, log: 'demo', history: expect.stringMatching(/^[\w-]+$/) });
    expect((await fetch(new URL('/health', demo.syncUrl))).ok).toBe(true);
    expect(await readFile(shot('demo-desktop.png'))).toBeTruthy();
  });
});

describe('the demo restarted on a new data directory', () => {
  it('opens a new local store in the same browser, instead of meeting the new server with the old history', async () => {
    const cacheDir = join(repoRoot, 'node_modules/.vite/demo-e2e');
    const first = await startDemo({ port: 0, syncPort: 0, verbose: false, cacheDir });
    let firstOpen = true;
    const port = Number(new URL(first.appUrl).port);
    const context = await browser.newContext();
    contexts.push(context);
    try {
      const page = await context.newPage();
      await page.goto(first.appUrl);
      await synced(page);
      await openOrder(page, 'Before the restart');
      await synced(page);
      await page.close();
      firstOpen = false;
      await first.close();

      // Same address (so the same IndexedDB), a fresh temporary data directory: a new server history.
      const second = await startDemo({ port, syncPort: 0, verbose: false, cacheDir });
      const again = await context.newPage();
      try {
        await again.goto(second.appUrl);
        await synced(again);
        const status = await again.evaluate(() => window.chronicleDemo!.store.sync.status());
        expect(status).toMatchObject({ lastError: null, confirmedPosition: 0 });
        await expect.poll(() => again.getByTestId('order-row').count()).toBe(0);
      } finally {
        await again.close(); // its live connection would hold the server's close up
        await second.close();
      }
    } finally {
      if (firstOpen) await first.close();
    }
  });
});

describe('the demo holds its layout and explains its limits', () => {
  /** How far the page is wider than the window (0 when nothing sticks out). */
  const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

  it.each([
    ['desktop', { width: 1280, height: 820 }],
    ['phone', { width: 390, height: 800 }],
  ])('a long unbroken word in every text field keeps the page inside the window (%s)', async (name, viewport) => {
    const page = await openDevice(viewport);
    const customer = 'W'.repeat(80);
    await openOrder(page, customer);
    await addItem(page, 'TEA-EG', 2);
    await page.getByTestId('action-cancel').click();
    await page.getByTestId('cancel-reason').fill('R'.repeat(200));
    await clickAndWait(page, 'cancel-confirm');
    await expect.poll(() => status(page)).toBe('cancelled');
    // The history list opened, and the same word in the search box.
    await page.getByTestId('order-history').locator('summary').click();
    await page.screenshot({ path: shot(`demo-long-words-${name}-order.png`), fullPage: true });
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    const search = page.getByRole('searchbox', { name: 'Search orders' });
    if (!(await search.isVisible())) await page.getByRole('button', { name: '← All orders' }).click();
    await search.fill('W'.repeat(500));
    await page.screenshot({ path: shot(`demo-long-words-${name}.png`), fullPage: true });
    expect(await overflow(page)).toBeLessThanOrEqual(0);
  });

  it('out-of-range input gets the app’s own message, and nothing is written', async () => {
    const page = await openDevice();
    const customer = page.getByTestId('new-order-customer');
    await customer.fill('C'.repeat(95));
    await expect
      .poll(() => page.getByTestId('new-order-error').textContent())
      .toBe('A customer name is at most 80 characters; this one has 95.');
    // Nothing was cut short: the field still holds all 95 characters.
    expect((await customer.inputValue()).length).toBe(95);
    await page.getByTestId('new-order-submit').click();
    expect(await page.getByTestId('order-detail').count()).toBe(0);

    await openOrder(page, 'Limits Ltd');
    const detail = page.getByTestId('order-detail');
    const version = await detail.getAttribute('data-version');
    for (const [typed, message] of [
      ['1000', 'Quantity must be a whole number from 1 to 999.'],
      ['0', 'Quantity must be a whole number from 1 to 999.'],
      ['2.5', 'Quantity must be a whole number from 1 to 999.'],
    ]) {
      await page.getByTestId('add-item-qty').fill(typed!);
      await page.getByTestId('add-item-submit').click();
      await expect.poll(() => page.getByTestId('order-error').textContent()).toBe(message);
    }
    // An added quantity that would take the line past 999 says how much still fits.
    await addItem(page, 'TEA-EG', 990);
    await page.getByTestId('add-item-qty').fill('10');
    await page.getByTestId('add-item-submit').click();
    await expect
      .poll(() => page.getByTestId('order-error').textContent())
      .toBe('An order line holds at most 999; this one has 990, so add at most 9.');
    expect(Number(await detail.getAttribute('data-version'))).toBe(Number(version) + 1);

    await page.getByTestId('action-cancel').click();
    await page.getByTestId('cancel-reason').fill('x'.repeat(201));
    await expect.poll(() => page.getByTestId('order-error').textContent()).toBe('A reason is at most 200 characters; this one has 201.');
    await page.getByTestId('cancel-confirm').click();
    expect(await status(page)).toBe('draft');
  });
});
