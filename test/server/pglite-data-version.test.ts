import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { createPgliteStore } from '../../src/server/index.ts';
import { toPullResponse } from '../../src/server/store/types.ts';
import { tempDirs } from '../fixtures/temp-dirs.ts';
import { TestClient } from './helpers.ts';

/**
 * A PGlite data directory of another PostgreSQL major version: PGlite 0.5
 * runs PostgreSQL 18, 0.6 runs 19, and neither opens the other's directory.
 * PGlite itself says only "PGlite failed to initialize properly". The store
 * names both versions and what to do, and leaves the directory as it was: put
 * back with its version, it opens with every event in it. (The directory of
 * another major is made here by rewriting PG_VERSION, the one file
 * PostgreSQL checks first.)
 */
describe('a PGlite data directory made by another PostgreSQL major version', () => {
  const fresh = tempDirs('pglite-version-');

  it('is refused with a ConfigError naming both versions, and left as it was', async () => {
    const dataDir = join(await fresh(), 'data');
    const first = await createPgliteStore({ dataDir });
    await first.push('orders', new TestClient('c1').next(['o1', 'o2']));
    await first.close();

    const versionFile = join(dataDir, 'pgdata', 'PG_VERSION');
    const made = (await readFile(versionFile, 'utf8')).trim();
    const other = String(Number(made) + 1);
    await writeFile(versionFile, `${other}\n`);

    const refusal = await createPgliteStore({ dataDir }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ConfigError);
    const { message, details } = refusal as ConfigError;
    expect(message).toContain(`was made by PostgreSQL ${other}`);
    expect(message).toContain(`runs PostgreSQL ${made}`);
    expect(message).toContain(dataDir);
    expect(details).toEqual({ dataDir, madeByPostgres: Number(other), pglitePostgres: Number(made) });

    // Nothing changed, and the lock went with the refusal: put back, the directory opens with both events.
    await writeFile(versionFile, `${made}\n`);
    const again = await createPgliteStore({ dataDir });
    try {
      const page = toPullResponse(await again.pull('orders', { after: 0, limit: 10 }));
      expect(page.events.map((e) => e.aggregateId)).toEqual(['o1', 'o2']);
    } finally {
      await again.close();
    }
  });
});
