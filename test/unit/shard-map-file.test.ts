import { fork } from 'node:child_process';
import { lstat, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../fixtures/temp-dirs.ts';
import { addOverride } from '../../src/server/shard-map-file.ts';

/** `move-log --update-map`'s rewrite of the shard map file (src/server/shard-map-file.ts). */
describe('shard map file updates', () => {
  const fresh = tempDirs('shard-map-');
  const mapIn = async (): Promise<{ dir: string; file: string }> => {
    const dir = await fresh();
    const file = join(dir, 'shards.json');
    await writeFile(file, JSON.stringify({ shards: { a: 'postgres://x/a', b: 'postgres://x/b' }, overrides: {} }));
    return { dir, file };
  };

  it('updates a symlinked map where it lives, and keeps the link', async () => {
    const { dir, file } = await mapIn();
    const link = join(dir, 'current.json');
    await symlink(file, link);
    await addOverride(link, 'shop-7', 'b');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ overrides: { 'shop-7': 'b' } });
  });

  it('several processes updating one map at once lose no override', async () => {
    const { file } = await mapIn();
    const script = join(import.meta.dirname, 'fixtures', 'add-overrides.ts');
    const startAt = String(Date.now() + 3_000); // all three start together, once loaded
    const runs = [0, 1, 2].map(
      (n) =>
        new Promise<number | null>((resolve) => {
          const child = fork(script, [file, String(n), '40', startAt], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
          child.on('exit', resolve);
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0]);
    const { overrides } = JSON.parse(await readFile(file, 'utf8')) as { overrides: Record<string, string> };
    expect(Object.keys(overrides)).toHaveLength(120);
    expect(await readFile(`${file}.lock`, 'utf8').catch(() => 'gone')).toBe('gone');
  }, 30_000);
});
