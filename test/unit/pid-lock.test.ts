import { fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { takePidLock } from '../../src/server/pid-lock.ts';
import { tempDirs } from '../fixtures/temp-dirs.ts';

/** The pid lock file (src/server/pid-lock.ts) that keeps a PGlite data directory and a shard map to one process at a time. */
describe('pid lock', () => {
  const fresh = tempDirs('pid-lock-');

  it('one holder at a time in a process; released, it can be taken again; another owner’s lock is never removed', async () => {
    const path = join(await fresh(), 'lock');
    const first = await takePidLock(path);
    expect('release' in first).toBe(true);
    expect(await takePidLock(path)).toEqual({ heldBy: process.pid });
    if ('release' in first) await first.release();
    const second = await takePidLock(path);
    expect('release' in second).toBe(true);
    // A release of a lock that is no longer this owner's (replaced by hand, say) leaves it alone.
    await writeFile(path, '1:someone-else');
    if ('release' in second) await second.release();
    expect(await readFile(path, 'utf8')).toBe('1:someone-else');
  });

  it('takes over a stale lock whose takeover a killed process left half done (its marker), once the marker is old', async () => {
    const dir = await fresh();
    const path = join(dir, 'lock');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = `${dead}:left`;
    await writeFile(path, stale);
    const marker = `${path}.takeover.${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
    await writeFile(marker, String(dead));
    const old = new Date(Date.now() - 60_000);
    await utimes(marker, old, old);
    const lock = await takePidLock(path);
    expect('release' in lock).toBe(true);
    if ('release' in lock) await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('six processes racing for a lock left by a dead process: exactly one takes it over, the others see it held', async () => {
    const dir = await fresh();
    const path = join(dir, 'lock');
    const log = join(dir, 'log');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid is a stale owner
    await writeFile(path, String(dead));
    const startAt = String(Date.now() + 3_000); // all six start together, once loaded
    const script = join(import.meta.dirname, 'fixtures', 'take-lock.ts');
    const codes = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<number | null>((resolve) => {
            const child = fork(script, [path, log, startAt], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
            child.on('exit', resolve);
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    // Never two holders at once: the holders' in..out intervals do not overlap (a late one may take it after a release).
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    const times = new Map<string, number[]>();
    for (const [what, pid, at] of lines.map((line) => line.split(' '))) {
      if (what !== 'busy') times.set(pid!, [...(times.get(pid!) ?? []), Number(at)]);
    }
    const held = [...times.values()].map(([from, to]) => ({ from: from!, to: to! })).sort((a, b) => a.from - b.from);
    expect(held.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < held.length; i++) expect(held[i]!.from).toBeGreaterThanOrEqual(held[i - 1]!.to);
    expect(held.length + lines.filter((line) => line.startsWith('busy ')).length).toBe(6);
    expect(await readdir(dir)).toEqual(['log']); // no lock, takeover marker or temporary file is left
  }, 30_000);
});
