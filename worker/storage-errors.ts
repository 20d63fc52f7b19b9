import { ChronicleError, StorageClosedError, StorageError, StorageQuotaError } from '../src/core/errors.ts';

/**
 * Turns what IndexedDB throws into a typed ChronicleError. ChronicleErrors
 * raised by our own checks pass through unchanged.
 */
export function toStorageError(database: string, operation: string, error: unknown): ChronicleError {
  if (error instanceof ChronicleError) return error;
  const e = error as { name?: string; message?: string } | null;
  const name = e?.name ?? 'Error';
  const message = `${name}: ${e?.message ?? String(error)}`;
  if (name === 'QuotaExceededError') return new StorageQuotaError(message);
  // Chromium aborts what runs on a connection it closes itself (cleared site data) with UnknownError "…closing…".
  if ((name === 'InvalidStateError' || name === 'UnknownError') && /clos/i.test(e?.message ?? '')) {
    return new StorageClosedError(database, message);
  }
  return new StorageError(operation, message);
}

/** The names of the DOMExceptions IndexedDB throws. */
const STORAGE_FAILURES = new Set([
  'QuotaExceededError',
  'InvalidStateError',
  'TransactionInactiveError',
  'UnknownError',
  'DataError',
  'ConstraintError',
  'VersionError',
  'ReadOnlyError',
  'NotFoundError',
  'DataCloneError',
  'AbortError',
]);

/** Whether `error` is one IndexedDB throws (toStorageError gives its typed form). */
export function isStorageFailure(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && STORAGE_FAILURES.has(name);
}
