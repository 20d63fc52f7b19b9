import { createHash } from 'node:crypto';
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises';

/**
 * A lock file that holds its owner's pid: one process at a time (a PGlite
 * data directory, a shard map being rewritten). A lock whose process is gone
 * (killed, or the machine restarted) is taken over.
 *
 * The file holds `pid:token`, and on Linux `:boot=<boot id>:start=<ticks>`
 * after it (ProcessIdentity), made whole under another name and linked into
 * place (which fails if the lock exists), so no one reads a lock that is
 * created but still empty or without its identity. A stale lock is removed by
 * the one process that creates its takeover marker (claimStale), never by a
 * process that read it earlier and might remove a fresh one. Release deletes
 * the file only if it is still this owner's.
 */

/** A takeover marker older than this was left by a process killed while taking a stale lock over. */
const TAKEOVER_MS = 10_000;

/** Locks this process holds, by path: its own pid is no proof of a stale lock while it holds one there. */
const heldHere = new Set<string>();

/**
 * What tells a process from a later one given the same pid (pids are reused,
 * soon after a kill and always after a reboot): the boot it runs in
 * (/proc/sys/kernel/random/boot_id) and its start time in clock ticks since
 * that boot (field 22 of /proc/<pid>/stat). Linux only: without /proc (macOS,
 * Windows) both are missing and a lock is judged by its pid alone.
 */
interface ProcessIdentity {
  boot?: string;
  start?: string;
}

/**
 * The pid (field 1) and start time (field 22) in /proc/<pid>/stat: 'gone' when
 * there is no such process, undefined when it cannot be read (no /proc).
 */
async function procStat(pid: number | 'self'): Promise<{ pid: number; start: string } | 'gone' | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' && pid !== 'self' ? 'gone' : undefined;
  }
  // Field 2 is the command name in parentheses, which may hold spaces and parentheses itself: count from the last ')'.
  const start = text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  return start && /^\d+$/.test(start) ? { pid: Number(text.slice(0, text.indexOf(' '))), start } : undefined;
}

let ownIdentityRead: Promise<ProcessIdentity> | undefined;

/** This process's identity, read once. */
function ownIdentity(): Promise<ProcessIdentity> {
  ownIdentityRead ??= (async () => {
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    if (!/^[\w-]+$/.test(boot)) return {};
    // A /proc of another pid namespace than this process's (some sandboxes) numbers processes differently:
    // a start time read there for a lock's pid would be another process's, so none is recorded or compared.
    const self = await procStat('self');
    return typeof self === 'object' && self.pid === process.pid ? { boot, start: self.start } : { boot };
  })();
  return ownIdentityRead;
}

/** The pid of the live process that holds the lock `text`, or undefined when the lock is stale. */
async function holderOf(text: string): Promise<number | undefined> {
  const [pidText = '', ...rest] = text.trim().split(':');
  const pid = Number(pidText.trim());
  // Not a pid: a damaged lock, which nothing holds. Its own pid: a lock left by an earlier life with the same pid (containers).
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // A live process has the pid. A lock written by an older version (no identity) or where /proc is missing
  // stays judged by that alone: refusing to start beats two processes on one directory.
  const recorded = new Map(rest.map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]));
  const here = await ownIdentity();
  const boot = recorded.get('boot');
  if (!boot || !here.boot) return pid;
  if (boot !== here.boot) return undefined; // written before a reboot: its process is gone, whoever has the pid now
  const start = recorded.get('start');
  if (!start || !here.start) return pid;
  // Another start time: the pid went to another process after the lock's owner died. 'gone': it exited since
  // kill() saw it. Unreadable (/proc mounted with hidepid): kill()'s answer stands.
  const now = await procStat(pid);
  return now === 'gone' || (now !== undefined && now.start !== start) ? undefined : pid;
}

const unique = (): string => `${process.pid}.${Math.random().toString(36).slice(2)}`;

/** Takes the lock at `path`: its release, or the pid of the live process that holds it. */
export async function takePidLock(path: string): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  if (heldHere.has(path)) return { heldBy: process.pid };
  const { boot, start } = await ownIdentity();
  const token = [
    `${process.pid}:${Math.random().toString(36).slice(2)}`,
    ...(boot ? [`boot=${boot}`] : []),
    ...(start ? [`start=${start}`] : []),
  ].join(':');
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
      const holder = await holderOf(text);
      if (holder !== undefined) return { heldBy: holder };
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
