#!/usr/bin/env node
// The chronicle-server command: the compiled server CLI (dist/cli.js).
// In a checkout of the Chronicle repository, where the TypeScript source sits
// beside this file, it runs that source through tsx (a dev dependency) instead,
// so the command never runs a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../src/server/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli.js');
}
