import { SyncError } from '../errors.ts';

/**
 * Which database failures mean "the database cannot serve now" (503, the
 * client retries the same request) rather than a bug, for PostgreSQL and
 * PGlite alike, by SQLSTATE. Pure: no I/O.
 */

/** A bounded wait ran out in the database: query_canceled (statement_timeout), lock_not_available (lock_timeout). */
const TIMED_OUT = new Set(['57014', '55P03']);

/**
 * SQLSTATE classes and codes of a database that cannot serve now: connection
 * exceptions (08), insufficient resources (53: disk full, out of memory, too
 * many connections), operator intervention (57: shutdown, cannot connect
 * now), system errors (58: I/O), and the bounded waits above.
 */
export function unavailableState(code: string): 'timeout' | 'unavailable' | undefined {
  if (TIMED_OUT.has(code)) return 'timeout';
  if (/^(08|53|57|58)[0-9A-Z]{3}$/.test(code)) return 'unavailable';
  return undefined;
}

/** The 503 for a failure of one of those kinds: `store-timeout` for a bounded wait, `store-unreachable` otherwise, with the cause. */
export function unavailableError(kind: 'timeout' | 'unavailable', error: unknown): SyncError {
  const message = error instanceof Error ? error.message : String(error);
  return kind === 'timeout'
    ? new SyncError('UNAVAILABLE', `The database gave up waiting: ${message}`, { reason: 'store-timeout', cause: message })
    : new SyncError('UNAVAILABLE', `The database is unavailable: ${message}`, { reason: 'store-unreachable', cause: message });
}

/** PGlite's errors as the server answers them: a database that cannot serve now (a full disk, say) is a 503, not a 500. */
export function mapPgliteError(error: unknown): unknown {
  if (error instanceof SyncError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const kind = typeof code === 'string' ? unavailableState(code) : undefined;
  return kind ? unavailableError(kind, error) : error;
}
