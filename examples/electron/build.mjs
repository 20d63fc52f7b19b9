// Bundles the renderer with esbuild, as the main README says for esbuild: the
// package's prebuilt engine worker is a second entry point, written beside app.js.
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

await mkdir(here('./dist'), { recursive: true });
await esbuild.build({
  entryPoints: { app: here('./renderer/main.js'), 'engine.worker': 'chronicle/engine.worker.js' },
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: true,
  outdir: here('./dist'),
  logLevel: 'warning',
});
await copyFile(here('./renderer/index.html'), here('./dist/index.html'));
