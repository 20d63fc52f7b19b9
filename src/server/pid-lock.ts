import { createHash } from 'node:crypto';
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises';

/**
 * A lock file that holds its owner's pid: one process at a time (a PGlite
 * data directory, a shard map being rewritten). A lock whose process is gone
 * (killed) is taken over.
 *
 * The file holds `pid:token`, made whole under another name and linked into
 * place (which fails if the lock exists), so no one reads a lock that is
 * created but still empty. A stale lock is removed by the one process that
 * creates its takeover marker (claimStale), never by a process that read it
 * earlier and might remove a fresh one. Release deletes the file only if it
 * is still this owner's.
 */

/** A takeover marker older than this was left by a process killed while taking a stale lock over. */
const TAKEOVER_MS = 10_000;

/** Locks this process holds, by path: its own pid is no proof of a stale lock while it holds one there. */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // a lock left by an earlier life with the same pid (containers)
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const pidOf = (text: string): number => Number(text.split(':')[0]!.trim());
const unique = (): string => `${process.pid}.${Math.random().toString(36).slice(2)}`;

/** Takes the lock at `path`: its release, or the pid of the live process that holds it. */
export async function takePidLock(path: string): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  if (heldHere.has(path)) return { heldBy: process.pid };
  const token = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const mine = `${path}.${unique()}`;
  await writeFile(mine, token, { flag: 'wx' });
  try {
    // Bounded: each turn either takes the lock, finds it held, or sees a stale one removed (here or by another
    // process); a takeover marker left by a killed process goes after TAKEOVER_MS.
    for (const started = Date.now(); Date.now() - started < 2 * TAKEOVER_MS;) {
      try {
        await link(mine, path);
        heldHere.add(path);
        return { release: () => releaseLock(path, token) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // let go of meanwhile: try again
      const pid = pidOf(text);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return { heldBy: pid };
      if (!(await claimStale(path, text))) await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
    throw new Error(`Could not take the lock ${path}`);
  } finally {
    await rm(mine, { force: true });
  }
}

/**
 * Removes the stale lock read as `stale`. Of the processes that read it, only
 * the one that creates its takeover marker (named after its content) removes
 * it: the others never touch the lock file, which may hold a fresh lock by
 * then. The lock can only still hold `stale` until that one removes it (its
 * owner is dead), so the check before removing is not a race.
 */
async function claimStale(path: string, stale: string): Promise<boolean> {
  const marker = `${path}.takeover.${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
  try {
    await writeFile(marker, String(process.pid), { flag: 'wx' });
  } catch {
    // Another process is taking it over: wait, then look again. One killed while doing so left its marker:
    // a takeover takes milliseconds, so a marker this old is that, and goes.
    const since = await stat(marker).then(
      (found) => Date.now() - found.mtimeMs,
      () => 0,
    );
    if (since > TAKEOVER_MS) await rm(marker, { force: true });
    return false;
  }
  try {
    if ((await readFile(path, 'utf8').catch(() => undefined)) === stale) await rm(path, { force: true });
    return true;
  } finally {
    await rm(marker, { force: true });
  }
}

async function releaseLock(path: string, token: string): Promise<void> {
  heldHere.delete(path);
  if ((await readFile(path, 'utf8').catch(() => undefined)) === token) await rm(path, { force: true });
}
