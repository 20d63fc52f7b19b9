import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { loadPeer } from '../../src/server/optional-peer.ts';
import { createPgliteStore } from '../../src/server/store/pglite.ts';
import { createPostgresStore } from '../../src/server/store/postgres.ts';

/**
 * The server's drivers are optional peers (issue 8): importing chronicle/server
 * needs none of them, and a missing one is a ConfigError that names the
 * package and the command that installs it.
 */

const notFound = (pkg: string) => (): Promise<never> =>
  Promise.reject(
    Object.assign(new Error(`Cannot find package '${pkg}' imported from /app/node_modules/chronicle/dist/server.js`), {
      code: 'ERR_MODULE_NOT_FOUND',
    }),
  );

describe('loading an optional peer', () => {
  it('given the package is not installed, when it is loaded, then a ConfigError names the package and the install command', async () => {
    const error = await loadPeer('pg', 'createPostgresStore', notFound('pg')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({
      code: 'CONFIG',
      message: 'createPostgresStore needs the "pg" package: npm install pg',
      details: { package: 'pg', neededBy: 'createPostgresStore' },
    });
  });

  it('given the package is installed but one of its own imports is missing, then that error passes through unchanged', async () => {
    const inner = Object.assign(new Error("Cannot find package 'pg-native' imported from /app/node_modules/pg/lib/native.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(loadPeer('pg', 'createPostgresStore', () => Promise.reject(inner))).rejects.toBe(inner);
  });

  it('given the package is installed, then its module is returned', async () => {
    const module = { Pool: class {} };
    await expect(loadPeer('pg', 'createPostgresStore', () => Promise.resolve(module))).resolves.toBe(module);
  });

  it('the stores say which package they need', async () => {
    await expect(createPostgresStore({ connectionString: 'postgres://x@127.0.0.1:1/x', importPg: notFound('pg') })).rejects.toThrow(
      'createPostgresStore needs the "pg" package: npm install pg',
    );
    await expect(createPgliteStore({ importPglite: notFound('@electric-sql/pglite') })).rejects.toThrow(
      'createPgliteStore needs the "@electric-sql/pglite" package: npm install @electric-sql/pglite',
    );
  });
});

describe('chronicle/server with none of its optional peers installed (a real Node process whose resolver refuses them)', () => {
  it('imports, serves push and pull over a store of its own, and every driver entry point says what to install', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx/esm', '--import', './test/server/fixtures/block-peers.mjs', './test/server/fixtures/peerless-server.mjs'],
      { cwd: root, timeout: 60_000 },
    );
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(out).toEqual({
      imported: true,
      createPostgresStore: 'ConfigError: createPostgresStore needs the "pg" package: npm install pg',
      createPgliteStore: 'ConfigError: createPgliteStore needs the "@electric-sql/pglite" package: npm install @electric-sql/pglite',
      pull: 200,
      metrics: {
        status: 503,
        body: {
          error: {
            code: 'UNAVAILABLE',
            message: 'The /metrics endpoint needs the "prom-client" package: npm install prom-client',
            details: { reason: 'metrics-unavailable' },
          },
        },
      },
      live: {
        status: 503,
        body: {
          error: {
            code: 'UNAVAILABLE',
            message: 'The live channel (attachWebSocket) needs the "ws" package: npm install ws',
            details: { reason: 'live-unavailable' },
          },
        },
      },
      // Four scrapes of /metrics and four live upgrades: each missing package is said once, no errors (sorted).
      logs: [
        'warn live channel off',
        'warn metrics off: The /metrics endpoint needs the "prom-client" package: npm install prom-client',
        "warn request refused by the server's set-up (logged once; the same refusals that follow are not) (live-unavailable)",
        "warn request refused by the server's set-up (logged once; the same refusals that follow are not) (metrics-unavailable)",
      ],
    });
  });
});
