/**
 * examples/electron's renderer, built by the example's own build.mjs against the
 * packed package, run in Chromium (Electron's renderer engine) with the page's
 * Content-Security-Policy also sent as a header, the configuration the preload
 * would hand it, and a real sync server. Electron itself (main.js, preload.cjs,
 * the app:// scheme) cannot be installed here and is not exercised: see
 * examples/electron/README.md.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, node, serveDir, startServer } from './helpers.ts';

const app = inject('consumerApp');
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('the Electron example renderer', () => {
  it('opens its store in a worker under its CSP, records sales and syncs them through the renderer', async () => {
    await node(app, 'electron/build.mjs');
    const html = await readFile(join(app, 'electron/dist/index.html'), 'utf8');
    const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(csp).toContain("worker-src 'self'");
    const server = await startServer(app, 'node/sync-server.mjs');
    const site = await serveDir(join(app, 'electron/dist'), { 'content-security-policy': csp! });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      // What preload.cjs exposes through contextBridge.
      await page.addInitScript(`window.chronicleConfig = ${JSON.stringify({ syncUrl: server.url, log: 'electron-demo' })};`);
      await page.goto(site.url);
      await page.locator('#sell:not([disabled])').waitFor();
      expect(await page.evaluate('window.chronicleTill.inWorker')).toBe(true);
      await page.locator('#sell').click();
      await page.locator('#sell').click();
      await expect.poll(() => page.locator('#count').textContent()).toBe('2');
      // The badge and the count update on paths of their own: the badge may still show the
      // start-up sync's "online, 0 pending" when the count reaches 2, so the server is polled
      // first, then the badge must show the sales as synced.
      const serverTypes = async (): Promise<string[]> => {
        const pulled = (await (await fetch(`${server.url}/v1/logs/electron-demo/pull?after=0`)).json()) as { events: { type: string }[] };
        return pulled.events.map((event) => event.type);
      };
      await expect.poll(serverTypes, { timeout: 30_000 }).toEqual(['SaleRecorded', 'SaleRecorded']);
      await page.locator('#sync[data-state="online"][data-pending="0"]').waitFor({ timeout: 30_000 });
      expect(violations).toEqual([]);
    } finally {
      await context.close();
      await site.close();
      await server.stop();
    }
  });
});
