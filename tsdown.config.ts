import { defineConfig, type UserConfig } from 'tsdown';

/**
 * The package build (`npm run build` → dist/): ESM JavaScript and bundled
 * `.d.ts` for every entry point, plus the engine's worker script.
 *
 * Two builds:
 * 1. The entry points, built together so they share chunks: `chronicle/core`'s
 *    ConcurrencyError is the very class `chronicle` throws. Dependencies and
 *    peers (idb, comlink, zod, react, the server drivers) stay imports.
 * 2. `engine.worker.js`: the worker script `openStore` starts by default,
 *    self-contained (idb, comlink and zod inlined, no imports), so it loads as it
 *    is wherever it is served: as a bundler's worker chunk, or straight from
 *    node_modules under Vite's dev server.
 */

const SPAWN_MODULE = /src[\\/]client[\\/]spawn-worker\.ts$/;
const SOURCE_WORKER = "'../../worker/index.ts'";
const BUILT_WORKER = "'./engine.worker.js'";

/**
 * In the repository the default worker is the TypeScript source; in dist it is
 * the built file beside the entry chunks. Swapping the path keeps the
 * `new Worker(new URL('…', import.meta.url))` expression that Vite and webpack
 * recognise. The build fails loudly if the expression is not where it expects.
 */
const workerPathPlugin = {
  name: 'chronicle:engine-worker-path',
  transform(code: string, id: string) {
    if (!SPAWN_MODULE.test(id)) return null;
    if (!code.includes(SOURCE_WORKER)) throw new Error(`${id} no longer names ${SOURCE_WORKER}; update tsdown.config.ts`);
    return { code: code.replace(SOURCE_WORKER, BUILT_WORKER), map: null };
  },
};

const shared: UserConfig = {
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  hash: false,
  fixedExtension: false,
  // Shared chunks sit beside the entries (the worker path above is relative to them).
  outputOptions: { chunkFileNames: 'chunk-[name].js' },
  tsconfig: 'tsconfig.build.json',
};

export default defineConfig([
  {
    ...shared,
    entry: {
      index: 'src/client/index.ts',
      core: 'src/core/index.ts',
      worker: 'worker/index.ts',
      devtools: 'src/devtools/index.ts',
      testing: 'src/testing/index.ts',
      react: 'src/react/index.ts',
      server: 'src/server/index.ts',
      cli: 'src/server/cli.ts',
    },
    // Neutral: the browser entries must not assume Node, and the server's `node:*`
    // imports stay imports (Node resolves them).
    platform: 'neutral',
    deps: { neverBundle: [/^node:/] },
    clean: true,
    dts: true,
    plugins: [workerPathPlugin],
  },
  {
    ...shared,
    entry: { 'engine.worker': 'worker/index.ts' },
    platform: 'browser',
    clean: false,
    dts: false,
    deps: { alwaysBundle: [/./] },
  },
]);
