/**
 * Work that one holder at a time may do for a store, in every tab of the
 * origin (a Web Lock). Where there are no Web Locks (Node), `withoutLocks`
 * says what holds instead: 'process', one holder among this process's stores
 * of that database; 'none', no lock (tabs are a browser's: a store of this
 * process that hung in the middle of the work would otherwise hold it for
 * good). A second caller is not queued: it gets `busy()`.
 */

interface LockManager {
  request<T>(name: string, options: { ifAvailable: boolean }, run: (lock: unknown) => Promise<T>): Promise<T>;
}

/** Names held in this process, where there are no Web Locks. */
const heldHere = new Set<string>();

export async function ifNotHeld<T>(name: string, withoutLocks: 'process' | 'none', work: () => Promise<T>, busy: () => T): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks) return locks.request(name, { ifAvailable: true }, async (lock) => (lock ? work() : busy()));
  if (withoutLocks === 'none') return work();
  if (heldHere.has(name)) return busy();
  heldHere.add(name);
  try {
    return await work();
  } finally {
    heldHere.delete(name);
  }
}

/** The lock a named replay job runs under: one run of a name per store at a time. */
export const jobLockName = (store: string, job: string): string => `chronicle-job:${store}:${job}`;
