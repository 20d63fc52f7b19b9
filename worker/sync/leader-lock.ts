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

/** Takes back a lock request still waiting; once granted (or given up) it does nothing. */
export type Withdraw = () => void;

function requestProcessLock(name: string, hold: Holder): Withdraw {
  const waiting = processLocks.get(name);
  if (waiting) {
    waiting.push(hold);
    return () => {
      const index = waiting.indexOf(hold);
      if (index >= 0) waiting.splice(index, 1);
    };
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
  return () => undefined;
}

/**
 * Asks for the lock; `hold` runs once it is granted. A closing engine
 * withdraws a request still waiting: the lock manager would otherwise keep
 * `hold`, and with it the whole closed engine, until the holder before it
 * lets go (which may be never, for a tab that stays open).
 */
export function requestLeaderLock(name: string, hold: Holder): Withdraw {
  const locks = webLocks();
  if (!locks) return requestProcessLock(name, hold);
  const withdrawn = new AbortController();
  // A withdrawn request rejects with an AbortError: that is its end, not a failure.
  locks.request(name, { signal: withdrawn.signal }, hold).catch(() => undefined);
  return () => withdrawn.abort();
}

/**
 * Runs `work` holding the lock if no one holds it or waits for it now, and
 * resolves with its result; resolves with `busy` (without running it) when
 * the lock is taken. Whoever asks for the lock meanwhile waits until `work`
 * is done.
 */
export async function withLockIfFree<T>(name: string, work: () => Promise<T>, busy: T): Promise<T> {
  const locks = webLocks();
  if (locks) return locks.request(name, { ifAvailable: true }, async (lock) => (lock ? work() : busy));
  if (processLocks.has(name)) return busy;
  return new Promise<T>((resolve, reject) => {
    requestProcessLock(name, () => {
      const running = work();
      running.then(resolve, reject);
      return running.then(ignore, ignore);
    });
  });
}

const ignore = (): undefined => undefined;

/** Whether anyone holds the lock now (a holder's own engine knows it is the leader). */
async function lockHeld(name: string): Promise<boolean> {
  const locks = webLocks();
  if (!locks) return processLocks.has(name);
  const { held } = await locks.query();
  return (held ?? []).some((lock) => lock.name === name);
}

/** How long an engine whose lock request is pending, with no one holding it, waits for it. */
const GRANT_WAIT_MS = 5000;

/**
 * Whether this engine is about to lead: false at once when another holder has
 * the lock; otherwise it waits for its own request to be granted (`granted`),
 * at most GRANT_WAIT_MS. Right after a store opens its request is usually
 * still pending (Web Locks answer asynchronously), and nobody else leads: a
 * sync asked for then is this engine's to run, not another tab's.
 */
export async function leadershipComing(name: string, granted: { promise: Promise<void>; done: () => boolean }): Promise<boolean> {
  if (granted.done()) return true;
  if ((await lockHeld(name)) && !granted.done()) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, GRANT_WAIT_MS, false)));
  try {
    return await Promise.race([granted.promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** A lock request's grant, as leadershipComing reads it. */
export function grantSignal(): { promise: Promise<void>; done: () => boolean; grant: () => void } {
  let isDone = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return {
    promise,
    done: () => isDone,
    grant() {
      isDone = true;
      resolve();
    },
  };
}
