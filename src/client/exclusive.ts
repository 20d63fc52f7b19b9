/**
 * Work that one holder at a time may do for a store, in every tab of the
 * origin (a Web Lock). Where there are no Web Locks (Node), one holder among
 * this process's stores of that database (the stores that can share a
 * database there, as for sync and reactions). A second caller is not queued:
 * it gets `busy()`.
 */

interface LockManager {
  request<T>(name: string, options: { ifAvailable: boolean }, run: (lock: unknown) => Promise<T>): Promise<T>;
}

/** Names held in this process, where there are no Web Locks, each with a token of its holder. */
const heldHere = new Map<string, symbol>();

export async function ifNotHeld<T>(name: string, work: () => Promise<T>, busy: () => T): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks) return locks.request(name, { ifAvailable: true }, async (lock) => (lock ? work() : busy()));
  if (heldHere.has(name)) return busy();
  const holder = Symbol(name);
  heldHere.set(name, holder);
  try {
    return await work();
  } finally {
    // Unless it was stolen meanwhile: then it is the new holder's.
    if (heldHere.get(name) === holder) heldHere.delete(name);
  }
}

/**
 * Frees a name held in this process whatever its holder does, as Web Locks'
 * `steal` does: for tests that stand for a tab that died holding it (in Node
 * such a holder is a store of the same process, which a test can freeze but
 * not kill).
 */
export function stealHeldHere(name: string): void {
  heldHere.delete(name);
}

/** The lock a named replay job runs under: one run of a name per store at a time. */
export const jobLockName = (store: string, job: string): string => `chronicle-job:${store}:${job}`;
