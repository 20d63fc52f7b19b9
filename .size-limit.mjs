/**
 * Bundle-size budgets, checked by `npm run size` (part of `npm test`): what an
 * app's bundler adds for Chronicle, minified and gzipped, with zod left out
 * (apps bring zod for their own schemas). Built from dist/, so run `npm run build` first.
 * Raise a limit only with a stated reason in the commit.
 */
const esm = (config) => ({ ...config, format: 'esm', splitting: true });

export default [
  {
    name: 'chronicle: main-thread entry (initial chunk; the in-process engine is a lazy chunk)',
    path: 'dist/index.js',
    ignore: ['zod'],
    gzip: true,
    modifyEsbuildConfig: esm,
    // 28.7 kB on 2026-12-03, before reactions and client metrics landed.
    limit: '34 kB',
  },
  {
    name: 'chronicle engine worker (dist/worker.js bundled with idb and comlink)',
    path: 'dist/worker.js',
    ignore: ['zod'],
    gzip: true,
    modifyEsbuildConfig: esm,
    // 18.3 kB on 2026-12-03.
    limit: '22 kB',
  },
];
