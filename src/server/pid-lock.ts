import { link, readFile, rm, writeFile } from 'node:fs/promises';

/**
 * A lock file that holds its owner's pid: one process at a time (a PGlite
 * data directory, a shard map being rewritten). A lock whose process is gone
 * (killed) is taken over.
 */

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // a lock left by an earlier life with the same pid (containers)
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock at `path`: its release, or the pid of the live process that
 * holds it. The lock file is made whole (pid written) under another name and
 * linked into place, which fails if the lock exists: another process never
 * reads a lock that is created but still empty, and takes it for a stale one.
 */
export async function takePidLock(path: string): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  const mine = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(mine, String(process.pid), { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, path);
        return { release: () => rm(path, { force: true }) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const text = await readFile(path, 'utf8').catch(() => undefined);
        if (text === undefined) continue; // let go of meanwhile: try again
        const pid = Number(text.trim());
        if (Number.isInteger(pid) && pid > 0 && alive(pid)) return { heldBy: pid };
        await rm(path, { force: true }); // its process is gone
      }
    }
    throw new Error(`Could not take the lock ${path}`);
  } finally {
    await rm(mine, { force: true });
  }
}
