/**
 * The packed package in a fresh app, bundled four ways and run in Chromium. In
 * each, openStore's defaults must start the engine in a Web Worker (no bundler
 * configuration beyond the README's), append and load, and raise errors that
 * keep their class and their name through minification.
 */
import { join } from 'node:path';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, node, serveDir, startServer, visit } from './helpers.ts';

const app = inject('consumerApp');
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/**
 * The total the page shows, once it shows one, taken from the same read that
 * saw it. The view shows '…' until it has a result, and on the dev server
 * (React StrictMode) a second read right after a wait had seen a number read
 * '…' once in CI.
 */
async function shownTotal(total: Locator): Promise<number> {
  let shown = '';
  await expect.poll(async () => (shown = (await total.textContent()) ?? '')).toMatch(/^\d+$/);
  return Number(shown);
}

/** What every plain-DOM fixture reports on its first visit. */
const firstVisit = {
  inWorker: true,
  total: 2,
  version: 1,
  errorName: 'ConcurrencyError',
  errorIsClass: true,
};

describe('Vite + React', () => {
  it('on the dev server (dependency pre-bundling on): the store opens in a worker, renders and takes appends', async () => {
    const server = await startServer(app, 'vite-react/serve.mjs');
    try {
      const visit1 = await visit(browser, server.url);
      try {
        expect(visit1.result).toEqual({ inWorker: true, errorName: 'ConcurrencyError', errorIsClass: true });
        const total = visit1.page.getByTestId('total');
        // The first load may still be running ('…') when the store reports it is open.
        const before = await shownTotal(total);
        await visit1.page.getByTestId('add').click();
        await expect.poll(async () => Number(await total.textContent())).toBe(before + 1);
        expect(visit1.errors).toEqual([]);
        // Vite pre-bundles chronicle into node_modules/.vite/deps/, where the worker's relative
        // URL finds nothing (vitejs/vite#8427); openStore then loads it from the package folder.
        expect(visit1.failedRequests.every((line) => line.includes('/node_modules/.vite/deps/engine.worker.js'))).toBe(true);
        expect(visit1.workerScripts).toContainEqual(expect.stringMatching(/^worker .*\/node_modules\/chronicle\/dist\/engine\.worker\.js/));
      } finally {
        await visit1.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('built with vite build: the same, minified', async () => {
    await node(app, 'vite-react/build.mjs');
    const site = await serveDir(join(app, 'vite-react/dist'));
    try {
      const visit1 = await visit(browser, site.url);
      try {
        expect(visit1.result).toEqual({ inWorker: true, errorName: 'ConcurrencyError', errorIsClass: true });
        const total = visit1.page.getByTestId('total');
        const before = await shownTotal(total);
        await visit1.page.getByTestId('add').click();
        await expect.poll(async () => Number(await total.textContent())).toBe(before + 1);
        expect(visit1.errors).toEqual([]);
        expect(visit1.failedRequests).toEqual([]);
      } finally {
        await visit1.close();
      }
    } finally {
      await site.close();
    }
  });
});

describe.each([
  ['webpack 5 (production mode)', 'webpack/build.mjs', 'webpack/dist'],
  ['esbuild (the README settings)', 'esbuild/build.mjs', 'esbuild/dist'],
])('%s', (_name, build, out) => {
  it('starts the engine in a worker, appends, loads, and keeps error classes and names', async () => {
    await node(app, build);
    const site = await serveDir(join(app, out));
    try {
      const visit1 = await visit(browser, site.url);
      try {
        expect(visit1.result).toEqual(firstVisit);
        expect(visit1.errors).toEqual([]);
        expect(visit1.failedRequests).toEqual([]);
      } finally {
        await visit1.close();
      }
    } finally {
      await site.close();
    }
  });
});
