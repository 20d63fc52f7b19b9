import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory } from '../../src/server/store/make-directory.ts';

/** The data directory of a PGlite store is made by makeDirectory (src/server/store/make-directory.ts). */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-mkdir-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeDirectory', () => {
  it('makes every missing level, and takes a directory that is already there', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirectory(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await expect(makeDirectory(deep)).resolves.toBeUndefined();
  });

  it('refuses a path that is a file (EEXIST), or runs through one (ENOTDIR)', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await expect(makeDirectory(file)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(join(file, 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.runIf(process.platform === 'linux')(
    'fails with ENOENT under a directory where nothing can be made (Node’s recursive mkdir never returns there)',
    async () => {
      await expect(makeDirectory('/proc/chronicle-data')).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(makeDirectory('/proc/chronicle-data/deeper')).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );
});
