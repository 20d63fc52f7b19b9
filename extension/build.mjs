#!/usr/bin/env node
// Builds the extension's scripts into extension/dist/ (one self-contained
// classic script each: content scripts and devtools pages cannot use ES
// module imports). Then load extension/ unpacked in chrome://extensions.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = fileURLToPath(new URL('./dist', import.meta.url));
const entries = {
  'devtools-page': 'src/devtools/extension/devtools-page.ts',
  panel: 'src/devtools/extension/panel-page.ts',
  'content-script': 'src/devtools/extension/content-script.ts',
  background: 'src/devtools/extension/background.ts',
};

rmSync(outDir, { recursive: true, force: true });
for (const [name, entry] of Object.entries(entries)) {
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: false,
      target: 'chrome116',
      minify: false,
      sourcemap: false,
      copyPublicDir: false,
      lib: {
        entry,
        formats: ['iife'],
        name: `chronicleDevtools_${name.replace(/-/g, '_')}`,
        fileName: () => `${name}.js`,
      },
    },
  });
  console.log(`extension/dist/${name}.js`);
}
