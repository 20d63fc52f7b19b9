import { ChronicleError } from '../../src/core/errors.ts';
import { messageOfThrown } from '../../src/core/thrown.ts';
import { isStorageFailure, toStorageError } from '../storage-errors.ts';
import type { SyncCallbacks } from './sync-engine.ts';

/**
 * A failed sync round's error as the app sees it: syncNow's rejection and
 * status().lastError. IndexedDB's failures get their typed form; what the
 * app's own callbacks threw passes as it is.
 */

/** What the app's own callbacks threw (getToken, decide, encryptionKeys): a round's failure passes them on as they are. */
const appErrors = new WeakSet<object>();

/** The app's callbacks, each noting what it throws in appErrors (an AbortError of a token refresh is no storage failure). */
export function noting(callbacks: SyncCallbacks): SyncCallbacks {
  const note =
    <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (error) {
        if (typeof error === 'object' && error !== null) appErrors.add(error);
        throw error;
      }
    };
  return {
    ...(callbacks.getToken ? { getToken: note(callbacks.getToken) } : {}),
    ...(callbacks.decide ? { decide: note(callbacks.decide) } : {}),
    ...(callbacks.encryptionKeys ? { encryptionKeys: note(callbacks.encryptionKeys) } : {}),
  };
}

/**
 * A failed round's error as the app sees it (syncNow's rejection, status().lastError): what IndexedDB
 * threw while the round stored what it pulled becomes its typed error (StorageQuotaError when the disk
 * is full), as for any other call of the store. Anything typed passes as it is.
 */
export function roundError(database: string, error: unknown): unknown {
  if (error instanceof ChronicleError || appErrors.has(error as object)) return error;
  return isStorageFailure(error) ? toStorageError(database, 'sync', error) : error;
}

/** What status().lastError says of an error: a code that is a string (a DOMException's is a legacy number), a message that says something. */
export function lastErrorOf(error: unknown): { code: string; message: string } {
  try {
    const e = error as { code?: unknown; message?: unknown } | null;
    return {
      code: typeof e?.code === 'string' ? e.code : 'ERROR',
      message: typeof e?.message === 'string' && e.message !== '' ? e.message : messageOfThrown(error),
    };
  } catch {
    // What an app's callback threw may be anything (a getter that throws, a revoked Proxy).
    return { code: 'ERROR', message: messageOfThrown(error) };
  }
}

/**
 * Whether a pull the server answered shows the last round's error is over:
 * it was about reaching the server or being let in (offline, a timeout, the
 * server or a proxy failing, a rate limit, credentials refused), which an
 * answer disproves. Any other error (a push refused, a key missing, a full
 * disk, a server that lost history) is not disproved by a pull: it stays in
 * status().lastError until a round ends without it, so a failure that repeats
 * every round does not flicker between the error and null.
 */
export function answerClears(code: string): boolean {
  return (
    code === 'OFFLINE' ||
    code === 'UNAUTHORIZED' ||
    code === 'RATE_LIMITED' ||
    code === 'REQUEST_TIMEOUT' ||
    code === 'UNAVAILABLE' ||
    code === 'INTERNAL' ||
    code.startsWith('HTTP_')
  );
}
