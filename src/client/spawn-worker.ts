/**
 * Where the engine's Web Worker comes from. The default is the one expression
 * every bundler recognises, `new Worker(new URL('<file>', import.meta.url))`:
 * Vite and webpack 5 bundle the file it names as a worker. In this repository
 * the file is the TypeScript source; the package build (tsdown.config.ts)
 * rewrites the path to the self-contained `engine.worker.js` shipped beside it.
 */
import { ConfigError } from '../core/errors.ts';

/** Worker options every spawn uses: a module worker named so devtools can find it. */
export const ENGINE_WORKER_OPTIONS: WorkerOptions = { type: 'module', name: 'chronicle-engine' };

/** The worker next to this module (see the note above: the build keeps this expression intact). */
export function spawnDefaultWorker(): Worker {
  try {
    return new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module', name: 'chronicle-engine' });
  } catch (error) {
    throw new ConfigError(
      `Could not create the engine worker (${String(error)}). Where the bundle has no import.meta.url, pass openStore({ worker: new URL('engine.worker.js', location.href) }) ` +
        `with the URL you serve node_modules/chronicle/dist/engine.worker.js at (see the README, "Install").`,
    );
  }
}

/**
 * A second place to look when the default worker fails to load. Vite's dev
 * server pre-bundles dependencies into `node_modules/.vite/deps/`, where the
 * relative worker URL points at nothing (vitejs/vite#8427); the file is still
 * served from the package folder itself.
 */
export function fallbackWorkerUrl(moduleUrl: string): URL | undefined {
  const marker = '/node_modules/.vite/deps/';
  const at = moduleUrl.indexOf(marker);
  if (at < 0) return undefined;
  return new URL(`${moduleUrl.slice(0, at)}/node_modules/chronicle/dist/engine.worker.js`);
}

/** This module's own URL, for fallbackWorkerUrl. */
export const thisModuleUrl = (): string => import.meta.url;
