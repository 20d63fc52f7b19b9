/**
 * Global setup of the `consumers` project: the package as a user gets it.
 *
 * 1. `npm run build`, then `npm pack`: the tarball `npm publish` would upload.
 * 2. A fresh app folder in the OS temp dir (outside this repository, so nothing
 *    resolves from the repo's node_modules), holding the fixture apps of
 *    test/consumers/fixture/ and a package.json that depends on the tarball plus
 *    the tools each fixture uses (Vite + React, webpack 5, esbuild, TypeScript,
 *    fake-indexeddb, PGlite, ws), pinned to the versions this repository tests
 *    with, so `npm install --prefer-offline` is served from npm's cache.
 * 3. Tests read the folder from `inject('consumerApp')`; teardown deletes it
 *    (set KEEP_CONSUMER_APP=1 to keep it for a look).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What a fixture app installs besides the tarball: the tools, at the versions the repo has. */
const TOOLS = [
  'zod',
  'react',
  'react-dom',
  '@types/react',
  '@types/react-dom',
  '@types/node',
  'vite',
  '@vitejs/plugin-react',
  'webpack',
  'esbuild',
  'typescript',
  'fake-indexeddb',
  '@electric-sql/pglite',
  'ws',
];

async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

declare module 'vitest' {
  export interface ProvidedContext {
    consumerApp: string;
    tarball: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const npm = (args: string[], cwd: string) =>
    run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

  await npm(['run', 'build', '--silent'], repoRoot);
  const app = await mkdtemp(join(tmpdir(), 'chronicle-consumer-'));
  const { stdout } = await npm(['pack', '--silent', '--pack-destination', app], repoRoot);
  const tarball = join(app, stdout.trim().split('\n').pop()!);

  await cp(join(repoRoot, 'test/consumers/fixture'), app, { recursive: true });
  // The Electron example's renderer and its build, as the example ships them.
  await cp(join(repoRoot, 'examples/electron/renderer'), join(app, 'electron/renderer'), { recursive: true });
  await cp(join(repoRoot, 'examples/electron/build.mjs'), join(app, 'electron/build.mjs'));
  const devDependencies: Record<string, string> = {};
  for (const name of TOOLS) devDependencies[name] = await installedVersion(name);
  const manifest = {
    name: 'chronicle-consumer-app',
    private: true,
    type: 'module',
    dependencies: { chronicle: `file:${tarball}` },
    devDependencies,
  };
  await writeFile(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);

  project.provide('consumerApp', app);
  project.provide('tarball', tarball);
  return async () => {
    if (!process.env.KEEP_CONSUMER_APP) await rm(app, { recursive: true, force: true });
  };
}
