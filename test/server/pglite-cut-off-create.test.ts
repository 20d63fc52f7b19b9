import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/server/index.ts';
import { tempDirs } from '../fixtures/temp-dirs.ts';

/**
 * A new PGlite data directory made in the server's own process (where the
 * initdb child cannot run: a bundled server, or a child that failed) is made
 * under a staging name and renamed into place once complete, as the child's
 * is. initdb writes PG_VERSION before it is done, so a process cut off in the
 * middle used to leave a `pgdata` that passed for a database and that no later
 * start could open ("Cannot read properties of undefined (reading 'call')", in
 * half the runs of a kill -9 probe). Here the cut is an initdb that writes
 * PG_VERSION and fails: nothing of it may be left as `pgdata`.
 */

/** A PGlite whose create() gets as far as PG_VERSION, then stops (what a process killed there leaves). */
const cutOff = async () => ({
  PGlite: {
    create: async (dir: string) => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'PG_VERSION'), '17\n');
      throw new Error('initdb was cut off');
    },
  },
});

describe('a PGlite data directory made in-process', () => {
  const fresh = tempDirs('pglite-cut-off-');

  it('leaves no pgdata when its creation is cut off, so the next start makes it afresh', async () => {
    const dataDir = join(await fresh(), 'data');
    await expect(createPgliteStore({ dataDir, importPglite: cutOff })).rejects.toThrow('initdb was cut off');
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);

    const store = await createPgliteStore({ dataDir, importPglite: () => import('@electric-sql/pglite') });
    try {
      expect(await store.head('orders')).toBe(0);
    } finally {
      await store.close();
    }
    // The directory holds the database (and the lock file while a server runs), no staging left.
    expect((await readdir(dataDir)).filter((name) => name.startsWith('pgdata'))).toEqual(['pgdata']);
  });
});
