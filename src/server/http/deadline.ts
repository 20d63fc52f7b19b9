import { SyncError } from '../errors.ts';

/**
 * `work`'s outcome, or `timedOut()` as a rejection once `ms` have passed
 * without one. `work` itself may still complete later: what it waits for is
 * not cancelled, only no longer waited for.
 */
export function settleWithin<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timedOut()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Bounds a store call: rejects with 503 UNAVAILABLE (reason "store-timeout")
 * when it has not settled within `ms`, whatever the store is waiting for (a
 * connection, a lock, a database that stopped answering). The call itself may
 * still complete later; a push is safe to retry (docs/protocol.md, Idempotency).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return settleWithin(
    work,
    ms,
    () =>
      new SyncError('UNAVAILABLE', `The log store did not answer the ${what} within ${ms} ms`, {
        reason: 'store-timeout',
        timeoutMs: ms,
      }),
  );
}
