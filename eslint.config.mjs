// @ts-check
/**
 * `npm run lint`: typescript-eslint's recommended rules, plus the layer rules
 * of the README's contributing section, written as `no-restricted-imports`
 * patterns over the import specifiers each folder may use:
 *
 *   core      → zod and core only; no DOM, Node or IndexedDB
 *   worker    → core, idb, comlink (never client, server, devtools, react)
 *   client    → core, comlink, and the engine only through worker/contract.ts
 *               (plus the one lazy `import()` of worker/engine.ts for in-process mode)
 *   server    → core and its drivers (never worker, client, devtools, react)
 *   devtools, react, testing → the public entries only (client/index.ts, core/index.ts)
 *
 * Every import in this repository names its file with its extension and is
 * relative, so a specifier pattern says exactly where an import goes.
 * test/unit/lint-rules.test.ts plants a violation of each rule and checks that
 * this config catches it.
 */
import tseslint from 'typescript-eslint';

/** The globals a platform-free module must not touch. */
const PLATFORM_GLOBALS = [
  'window',
  'document',
  'navigator',
  'localStorage',
  'sessionStorage',
  'indexedDB',
  'IDBKeyRange',
  'self',
  'process',
  'Buffer',
  'require',
  '__dirname',
  '__filename',
].map((name) => ({
  name,
  message: 'src/core is platform-free: no DOM, Node or IndexedDB globals (pass what you need in from the caller).',
}));

/**
 * For a file `depth` folders inside a layer (1 = directly in it): a pattern
 * refusing relative imports that climb out of the layer, except to `allowed`
 * (paths relative to src/, e.g. 'client/index.ts').
 */
function leavesLayerExcept(depth, allowed, message) {
  const up = '\\.\\./'.repeat(depth);
  const except = allowed.map((target) => target.replace(/\./g, '\\.')).join('|');
  return { regex: `^${up}(?!(${except})$)`, message };
}

/** The rule for files at depth 1, 2 and 3 inside `folder`. */
function publicEntriesOnly(folder, message) {
  return [1, 2, 3].map((depth) => ({
    files: [`${folder}/${'*/'.repeat(depth - 1)}*.{ts,tsx}`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [leavesLayerExcept(depth, ['client/index.ts', 'core/index.ts'], message)] }],
    },
  }));
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/.vite/**',
      '.exp-*/**',
      'coverage/**',
      'test-results/**',
      'extension/dist/**',
      'extension/*.js',
      'examples/**',
      'test/consumers/fixture/**',
      '**/*.tmp.*',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (positional parameters, discarded tuple items).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // Size limits of the house: a file over 600 lines or a function over 200 does more than one job.
  {
    files: ['src/**/*.{ts,tsx}', 'worker/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 600 }],
      'max-lines-per-function': ['error', { max: 200 }],
    },
  },
  // core: zod and itself only.
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./|zod$)', message: 'src/core imports only zod and core itself (it is platform-free).' }] },
      ],
      'no-restricted-globals': ['error', ...PLATFORM_GLOBALS],
    },
  },
  // worker: core, idb, comlink; never the layers above it.
  {
    files: ['worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)src/(client|server|devtools|react|testing)/',
              message: 'worker/ sits below the client: it imports only core, idb and comlink.',
            },
            { regex: '^(?!\\.|idb$|comlink$)', message: 'worker/ imports only core, idb and comlink.' },
          ],
        },
      ],
    },
  },
  // client: the engine only through worker/contract.ts.
  {
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)worker/(?!contract\\.ts$)',
              message:
                'src/client reaches the engine only through worker/contract.ts (and the one lazy import of worker/engine.ts in connection.ts).',
            },
            { regex: '(^|/)(server|devtools|react)/', message: 'src/client does not import the server, devtools or react layers.' },
          ],
        },
      ],
    },
  },
  // server: core and its drivers; never the engine or the browser layers.
  {
    files: ['src/server/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(worker|client|devtools|react|testing)/',
              message: 'The server depends on core only: it never imports worker/, client/, devtools/ or react/.',
            },
          ],
        },
      ],
    },
  },
  // devtools, react, testing: the public entries only.
  ...publicEntriesOnly('src/devtools', 'devtools uses only the public entries: client/index.ts and core/index.ts.'),
  ...publicEntriesOnly('src/react', 'react uses only the public entries: client/index.ts and core/index.ts.'),
  ...publicEntriesOnly('src/testing', 'testing uses only the public entries: client/index.ts and core/index.ts.'),
);
