/**
 * Which of the engines on one store syncs: the one holding a named lock.
 * Browsers have Web Locks, shared by every tab and worker of the origin.
 * Node has none (as of Node 20); there the engines that can share a database
 * live in one process, so a lock kept in this module serves the same end.
 */

/** Called once the lock is granted; the lock is held until the promise it returns settles. */
type Holder = () => Promise<void> | undefined;

function webLocks(): LockManager | undefined {
  if (typeof navigator === 'undefined') return undefined;
  const locks = (navigator as { locks?: LockManager }).locks;
  return typeof locks?.request === 'function' ? locks : undefined;
}

/** Names held in this process, each with the holders waiting for it, first come first served. */
const processLocks = new Map<string, Holder[]>();

function requestProcessLock(name: string, hold: Holder): void {
  const waiting = processLocks.get(name);
  if (waiting) {
    waiting.push(hold);
    return;
  }
  processLocks.set(name, []);
  const run = (holder: Holder): void => {
    void Promise.resolve()
      .then(holder)
      .catch(() => undefined)
      .finally(() => {
        const next = processLocks.get(name)?.shift();
        if (next) run(next);
        else processLocks.delete(name);
      });
  };
  run(hold);
}

export function requestLeaderLock(name: string, hold: Holder): void {
  const locks = webLocks();
  if (locks) void locks.request(name, hold);
  else requestProcessLock(name, hold);
}
