import { playwright } from '@vitest/browser-playwright';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/setup/chromium.ts';

/**
 * Two Vitest projects:
 *
 * - `node`:    unit, engine and server suites in Node, with IndexedDB provided
 *              by fake-indexeddb (see test/setup/node.ts). BroadcastChannel is
 *              a Node 20 global.
 * - `browser`: engine suites again, plus browser-only suites, in real headless
 *              Chromium through the Playwright provider (real IndexedDB, real
 *              module Web Workers).
 *
 * Inline projects do not inherit the root config (no `extends: true`), so every
 * option that matters lives inside its project.
 */

const TEST_TIMEOUT = 60_000;

/**
 * The repository's own suites import `chronicle/*` from the TypeScript source:
 * the package's exports have a `chronicle-source` condition for that. (The
 * consumers project tests the built, packed package instead.)
 */
const SOURCE = 'chronicle-source';
const nodeResolve = { conditions: [SOURCE, ...defaultServerConditions] };
const browserResolve = { conditions: [SOURCE, ...defaultClientConditions] };
const HOOK_TIMEOUT = 60_000;

/**
 * How long `expect.poll` waits before it fails (Vitest's default is 1 s). What
 * the suites poll for (a sync round, a worker's reply, a re-render) takes
 * milliseconds on an idle machine but can take seconds on a loaded 2-core CI
 * runner; a poll that passes returns as soon as it does, so a long bound costs
 * nothing.
 */
const POLL = { poll: { timeout: 20_000 } };

export default defineConfig({
  test: {
    projects: [
      {
        resolve: nodeResolve,
        ssr: { resolve: { conditions: nodeResolve.conditions, externalConditions: [SOURCE] } },
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/engine/**/*.test.ts', 'test/server/**/*.test.ts', 'test/sync/**/*.test.ts'],
          setupFiles: ['test/setup/node.ts'],
          testTimeout: TEST_TIMEOUT,
          hookTimeout: HOOK_TIMEOUT,
          expect: POLL,
        },
      },
      {
        // Vite options for the browser project's dev server.
        resolve: browserResolve,
        worker: {
          // Web Workers are ES modules: `new Worker(new URL(..., import.meta.url), { type: 'module' })`.
          format: 'es',
        },
        optimizeDeps: {
          // Pre-bundle up front. Workers (worker/index.ts, test fixtures) are not
          // scanned by Vite's dependency scanner, so without this the first run
          // discovers these deps mid-test, re-optimizes and reloads the page.
          include: ['idb', 'comlink', 'zod', 'dexie'],
        },
        test: {
          name: 'browser',
          include: ['test/engine/**/*.test.ts', 'test/browser/**/*.test.ts'],
          // A real sync server, started in Node, for the browser sync suites.
          globalSetup: ['test/setup/sync-server.ts'],
          testTimeout: TEST_TIMEOUT,
          hookTimeout: HOOK_TIMEOUT,
          expect: POLL,
          browser: {
            enabled: true,
            headless: true,
            // No UI / screenshots in CI runs.
            ui: false,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: {
                // The system Chromium (CHROMIUM_PATH or /usr/bin/chromium), never a Playwright download.
                executablePath: CHROMIUM_PATH,
                args: CHROMIUM_ARGS,
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        // The demo (sync server + Vite) driven in headless Chromium by playwright-core.
        resolve: nodeResolve,
        ssr: { resolve: { conditions: nodeResolve.conditions, externalConditions: [SOURCE] } },
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          expect: POLL,
        },
      },
      {
        // The packed package installed into fresh fixture apps (test/consumers/setup.ts):
        // plain Node, strict tsc, and Vite (dev + build), webpack and esbuild in Chromium.
        test: {
          name: 'consumers',
          environment: 'node',
          include: ['test/consumers/**/*.test.ts'],
          globalSetup: ['test/consumers/setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          expect: POLL,
        },
      },
    ],
  },
});
