import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Rollup } from 'vite';

type RollupLog = Rollup.RollupLog;

/**
 * Library build (`npm run build` -> dist/). Tests do not use this file:
 * Vitest picks up vitest.config.ts, which takes precedence over vite.config.ts.
 */

const fromRoot = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

interface PackageJson {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(fromRoot('./package.json'), 'utf8')) as PackageJson;

/** Runtime dependencies stay imports in the output (consumers install them); so do Node built-ins. */
const externalPackages = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
];
const isExternal = (id: string): boolean =>
  id.startsWith('node:') ||
  builtinModules.includes(id) ||
  // The package itself and any deep import of it (e.g. `zod/v4`, `idb/with-async-ittr`).
  externalPackages.some((name) => id === name || id.startsWith(`${name}/`));

/**
 * Drop Rollup's INVALID_ANNOTATION noise from third-party code (zod ships `@__PURE__`
 * comments Rollup cannot place; it just removes them). Everything else is reported as usual.
 */
const onwarn = (warning: RollupLog, defaultHandler: (warning: RollupLog) => void): void => {
  if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/')) return;
  defaultHandler(warning);
};

export default defineConfig({
  // Relative asset URLs: emitted worker chunks are referenced as
  // `new URL('../assets/x.js', import.meta.url)` instead of an origin-absolute '/assets/x.js',
  // so dist/ works wherever the consumer serves it from.
  base: './',
  worker: {
    // Workers referenced with `new Worker(new URL(..., import.meta.url), { type: 'module' })`
    // are emitted as ES module chunks.
    format: 'es',
    // Note: a worker chunk reached through `new URL(...)` is bundled self-contained (a worker
    // loaded by URL cannot resolve bare imports), so `external` below does not apply to it.
    // Vite applies build.rollupOptions.onwarn to worker bundles as well.
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: {
      entry: {
        'client/index': fromRoot('./src/client/index.ts'),
        'core/index': fromRoot('./src/core/index.ts'),
        'worker/index': fromRoot('./worker/index.ts'),
        'testing/index': fromRoot('./src/testing/index.ts'),
      },
      formats: ['es'],
      fileName: (_format, entryName) => `${entryName}.js`,
    },
    rollupOptions: {
      external: isExternal,
      onwarn,
    },
  },
});
