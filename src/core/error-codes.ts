/**
 * The codes of the errors the store raises itself, each in the README's
 * Errors table (test/unit/error-codes.test.ts holds the two together). Only
 * its type is public (ChronicleErrorCode): apps compare codes, and the list
 * costs every page bundle bytes it never uses.
 */
export const STORE_ERROR_CODES = [
  'CONCURRENCY',
  'VALIDATION',
  'UNKNOWN_EVENT_TYPE',
  'EVENT_TOO_LARGE',
  'UNSERIALIZABLE',
  'DUPLICATE_IN_BATCH',
  'EVENT_ID_CONFLICT',
  'AGGREGATE_TYPE',
  'UPCAST',
  'STORAGE_QUOTA',
  'STORAGE_BLOCKED',
  'STORAGE_CLOSED',
  'UNFINISHED_WORK',
  'STORAGE',
  'STORE_CLOSED',
  'ABORTED',
  'TIME_TRAVEL',
  'CONFIG',
  'ENCRYPTION_KEY',
  'IN_USE',
  'HISTORY_COMPACTED',
  'NOT_PARKED',
  'POSITION_GAP',
  'SEQ_GAP',
  'OFFLINE',
  'SYNC_PAUSED',
  'SYNC_STOPPED',
  'SYNC_PROTOCOL',
  'SYNC_NO_PROGRESS',
  'SYNC_SERVER_BEHIND',
  'SYNC_DIVERGED',
  'SYNC_STANDBY',
  'REBASE_FAILED',
] as const;

/**
 * The codes of the errors the devtools panel raises (`chronicle/devtools`:
 * DevtoolsError and RemoteError), documented in the README's Devtools section.
 * Only their type is used outside the panel.
 */
export const DEVTOOLS_ERROR_CODES = ['NO_AGGREGATE', 'EXPIRED', 'DISCONNECTED', 'BAD_REQUEST', 'REMOTE'] as const;
