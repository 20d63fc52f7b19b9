import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { takePidLock } from '../../src/server/pid-lock.ts';
import { tempDirs } from '../fixtures/temp-dirs.ts';

/** Linux, where a lock records its owner's boot and start time beside its pid (elsewhere the pid alone is checked). */
const PROC = existsSync('/proc/sys/kernel/random/boot_id') && existsSync('/proc/self/stat');

/** Forks a process that takes the lock at `path` and holds it until killed; resolves once it holds it. */
async function holdInAnotherProcess(path: string): Promise<ChildProcess> {
  const child = fork(join(import.meta.dirname, 'fixtures', 'hold-lock.ts'), [path], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  // Bounded, and every way the child can fail to start ends the wait with its reason ('error': the fork itself
  // failed, which emits no 'exit'), so a failure here names itself instead of timing the test out.
  const said = await new Promise((resolve, reject) => {
    const fail = (error: Error) => (clearTimeout(timer), child.kill('SIGKILL'), reject(error));
    const timer = setTimeout(() => fail(new Error('the lock holder said nothing within 30 s')), 30_000);
    child.once('message', (message) => (clearTimeout(timer), resolve(message)));
    child.once('exit', (code, signal) => fail(new Error(`the lock holder exited (${code ?? signal}) before it held the lock`)));
    child.once('error', fail);
  });
  expect(said).toBe('held');
  return child;
}

/** SIGKILL, as the OOM killer or kill -9 ends a server: its lock file stays. */
async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return; // gone already: 'exit' will not come again
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

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

  // pid reuse: after a kill -9 (or a reboot) the dead owner's pid soon belongs to another process, and a lock
  // judged by its pid alone then kept every restart out until someone deleted it by hand.
  it.runIf(PROC)('takes over a lock whose owner was killed and whose pid now belongs to another live process', async () => {
    const path = join(await fresh(), 'lock');
    const holder = await holdInAnotherProcess(path);
    const holderPid = holder.pid!;
    try {
      // While its owner lives, the lock is held: its recorded identity matches the live process.
      expect(await takePidLock(path)).toEqual({ heldBy: holderPid });
    } finally {
      await killHard(holder);
    }
    // The pid is reused by an unrelated live process (this test's parent stands in for it: pids are not
    // handed out on request). Only the pid changes: the rest of the lock is the dead owner's.
    const reusedBy = process.ppid;
    const lock = await readFile(path, 'utf8');
    expect(lock.startsWith(`${holderPid}:`)).toBe(true);
    await writeFile(path, `${reusedBy}${lock.slice(String(holderPid).length)}`);

    const taken = await takePidLock(path);
    expect(taken).toEqual({ release: expect.any(Function) });
    if ('release' in taken) await taken.release();
  });

  it.runIf(PROC)('takes over a lock written before a reboot (another boot id) whose pid is alive now', async () => {
    const path = join(await fresh(), 'lock');
    await writeFile(path, `${process.ppid}:token:boot=00000000-0000-4000-8000-000000000000:start=1`);
    const taken = await takePidLock(path);
    expect(taken).toEqual({ release: expect.any(Function) });
    if ('release' in taken) await taken.release();
  });

  // An older version wrote `pid:token` (and earlier `pid`): nothing tells its owner from a later process with
  // that pid, so a live pid keeps it held, as that version judged it; refusing a start beats two writers.
  it('a lock without its owner’s identity (written by an older version) is held while its pid is alive', async () => {
    const path = join(await fresh(), 'lock');
    await writeFile(path, `${process.ppid}:token`);
    expect(await takePidLock(path)).toEqual({ heldBy: process.ppid });
    await writeFile(path, String(process.ppid));
    expect(await takePidLock(path)).toEqual({ heldBy: process.ppid });
  });
});
