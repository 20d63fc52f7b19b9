/**
 * The packed package in plain Node ESM, no TypeScript loader: every entry
 * imports without IndexedDB, and the server on PGlite syncs with an in-process
 * store. The bin runs as compiled JavaScript.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { lastJson, node } from './helpers.ts';

const app = inject('consumerApp');
const exec = promisify(execFile);

describe('plain Node ESM', () => {
  it('imports every entry point without throwing, where there is no IndexedDB', async () => {
    const counts = lastJson<Record<string, number | string>>(await node(app, 'node/import-all.mjs'));
    for (const [entry, exports] of Object.entries(counts)) {
      expect(exports, entry).toBeTypeOf('number');
      expect(exports, entry).toBeGreaterThan(0);
    }
    expect(Object.keys(counts)).toHaveLength(7);
  });

  it('a store opened where there is no IndexedDB is a ConfigError that names fake-indexeddb', async () => {
    const refusals = lastJson<Record<string, { name: string; code: string; message: string }>>(await node(app, 'node/no-indexeddb.mjs'));
    expect(Object.keys(refusals)).toHaveLength(3);
    for (const [call, refusal] of Object.entries(refusals)) {
      expect(refusal, call).toMatchObject({ name: 'ConfigError', code: 'CONFIG', message: expect.stringContaining('fake-indexeddb/auto') });
    }
  });

  it('runs chronicle/server on PGlite and a worker: false store that syncs to it', async () => {
    const result = lastJson<{
      refused: string;
      load: { state: { total: number }; version: number };
      inWorker: boolean;
      serverEvents: [string, number, number, number][];
    }>(await node(app, 'node/sync.mjs'));
    expect(result.inWorker).toBe(false);
    expect(result.refused).toBe('aggregateId');
    expect(result.load).toMatchObject({ state: { total: 5 }, version: 2 });
    expect(result.serverEvents).toEqual([
      ['counter-1', 1, 1, 2],
      ['counter-1', 2, 2, 3],
    ]);
  });

  it('a server driver the app did not install is named, with the command that installs it', async () => {
    expect(lastJson(await node(app, 'node/missing-driver.mjs'))).toEqual({
      name: 'ConfigError',
      code: 'CONFIG',
      message: 'createPostgresStore needs the "pg" package: npm install pg',
    });
  });

  it('the chronicle-server bin runs from the installed package', async () => {
    const { stdout } = await exec(join(app, 'node_modules/.bin/chronicle-server'), ['--help'], { cwd: app, timeout: 30_000 });
    expect(stdout).toMatch(/--port/);
    expect(stdout).toMatch(/--database-url/);
  });
});
