import { SyncError } from '../errors.ts';

/**
 * Bounds a store call: rejects with 503 UNAVAILABLE (reason "store-timeout")
 * when it has not settled within `ms`, whatever the store is waiting for (a
 * connection, a lock, a database that stopped answering). The call itself may
 * still complete later; a push is safe to retry (docs/protocol.md, Idempotency).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new SyncError('UNAVAILABLE', `The log store did not answer the ${what} within ${ms} ms`, {
          reason: 'store-timeout',
          timeoutMs: ms,
        }),
      );
    }, ms);
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
