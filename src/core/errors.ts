/**
 * Every error Chronicle raises is a ChronicleError with a stable `code` and the
 * facts in fields, so callers can branch on `code` (or `instanceof`) and show
 * the facts without parsing messages. `toJSON`/`fromJSON` let errors cross the
 * worker boundary and the network with their class and fields intact.
 */
import type { DEVTOOLS_ERROR_CODES, STORE_ERROR_CODES } from './error-codes.ts';
import type { ProtocolErrorCode } from './protocol.ts';

export type ErrorDetails = Record<string, unknown>;

/**
 * Every `ChronicleError.code`: the store's own codes, the sync server's
 * (docs/protocol.md; also what the store reports when the server refused a
 * request), the devtools panel's, and `HTTP_<status>` for a reply without the
 * protocol's error body. A server newer than this package may send a code it
 * does not list.
 */
export type ChronicleErrorCode = (typeof STORE_ERROR_CODES)[number] | ProtocolErrorCode | DevtoolsErrorCode | `HTTP_${number}`;

/** The codes of the devtools panel's errors (`chronicle/devtools`: DevtoolsError). */
export type DevtoolsErrorCode = (typeof DEVTOOLS_ERROR_CODES)[number];

export class ChronicleError extends Error {
  // Every subclass names itself with a string literal: a minifier renames classes,
  // and `error.name` must still say `ConcurrencyError`, not `Bs`.
  override name = 'ChronicleError';
  readonly code: ChronicleErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ChronicleErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
  toJSON(): SerializedError {
    return { code: this.code, name: this.name, message: this.message, details: this.details };
  }
}

export interface SerializedError {
  code: string;
  name: string;
  message: string;
  details: ErrorDetails;
}

export type ExpectedVersion = number | 'any' | 'no-stream';

/** expectedVersion did not match the stream's head. */
export class ConcurrencyError extends ChronicleError {
  override name = 'ConcurrencyError';
  constructor(
    readonly aggregateId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super('CONCURRENCY', `Aggregate "${aggregateId}": expected version ${String(expected)}, but the stream is at ${actual}`, {
      aggregateId,
      expected,
      actual,
    });
  }
}

/**
 * Event data failed its schema, or the envelope itself is malformed; or (an
 * `eventType` of '?') an argument or option of a call is not what it takes.
 */
export class ValidationError extends ChronicleError {
  override name = 'ValidationError';
  constructor(
    readonly eventType: string,
    readonly path: string,
    readonly reason: string,
    readonly index?: number,
  ) {
    const what = eventType === '?' ? 'Invalid argument' : `Invalid ${eventType} event`;
    super('VALIDATION', `${what}${index === undefined ? '' : ` at index ${index}`}: ${path || '(root)'}: ${reason}`, {
      eventType,
      path,
      reason,
      index,
    });
  }
}

export class UnknownEventTypeError extends ChronicleError {
  override name = 'UnknownEventTypeError';
  constructor(
    readonly eventType: string,
    readonly known: readonly string[],
  ) {
    super('UNKNOWN_EVENT_TYPE', `Unknown event type "${eventType}"; defined types: ${known.join(', ') || '(none)'}`, { eventType, known });
  }
}

export class EventTooLargeError extends ChronicleError {
  override name = 'EventTooLargeError';
  constructor(
    readonly eventType: string,
    readonly bytes: number,
    readonly limit: number,
    readonly index?: number,
  ) {
    super(
      'EVENT_TOO_LARGE',
      `${eventType} event${index === undefined ? '' : ` at index ${index}`} is ${bytes} bytes; the limit is ${limit} (option maxEventBytes)`,
      { eventType, bytes, limit, index },
    );
  }
}

/** Data that cannot be stored as JSON: functions, cycles, symbols, NaN, class instances... */
export class UnserializableDataError extends ChronicleError {
  override name = 'UnserializableDataError';
  constructor(
    readonly eventType: string,
    readonly path: string,
    readonly reason: string,
    readonly index?: number,
  ) {
    super(
      'UNSERIALIZABLE',
      `${eventType} event${index === undefined ? '' : ` at index ${index}`} cannot be stored: ${path || '(root)'}: ${reason}`,
      { eventType, path, reason, index },
    );
  }
}

/** No aggregate type could be resolved for an append. */
export class AggregateTypeError extends ChronicleError {
  override name = 'AggregateTypeError';
  constructor(message: string, details: ErrorDetails = {}) {
    super('AGGREGATE_TYPE', message, details);
  }
}

/** The same event id appears twice within one append call. */
export class DuplicateInBatchError extends ChronicleError {
  override name = 'DuplicateInBatchError';
  constructor(readonly eventId: string) {
    super('DUPLICATE_IN_BATCH', `Event id ${eventId} appears more than once in the same append`, { eventId });
  }
}

/**
 * An event id that is already stored, but not as this event: in another
 * stream, or with other content. A true retry (same id, same stream, same
 * type and data) is acknowledged instead; this is a different event reusing
 * an id, and storing or acknowledging it would lose one of the two.
 */
export class EventIdConflictError extends ChronicleError {
  override name = 'EventIdConflictError';
  constructor(
    readonly eventId: string,
    /** The stream the append asked for. */
    readonly aggregateId: string,
    /** The stream the stored event belongs to. */
    readonly storedAggregateId: string,
    readonly reason: 'other-stream' | 'different-content',
  ) {
    super(
      'EVENT_ID_CONFLICT',
      reason === 'other-stream'
        ? `Event id ${eventId} is already stored in stream "${storedAggregateId}", not in "${aggregateId}"`
        : `Event id ${eventId} is already stored in "${storedAggregateId}" with other content (type or data)`,
      { eventId, aggregateId, storedAggregateId, reason },
    );
  }
}

/** The browser refused to store more (QuotaExceededError). Nothing of the append was written. */
export class StorageQuotaError extends ChronicleError {
  override name = 'StorageQuotaError';
  constructor(cause: string) {
    super('STORAGE_QUOTA', `Storage quota exceeded; nothing of this write was stored (${cause})`, { cause });
  }
}

/** Opening or upgrading the database is blocked by another tab holding an older version open. */
export class StorageBlockedError extends ChronicleError {
  override name = 'StorageBlockedError';
  constructor(
    readonly database: string,
    /** What waits: an upgrade of the database, or (openStore finishing a deleteStore) its deletion. */
    readonly waiting: 'upgrade' | 'delete' = 'upgrade',
  ) {
    super(
      'STORAGE_BLOCKED',
      `Database "${database}" ${waiting === 'delete' ? 'deletion' : 'upgrade'} is blocked by another tab that still has it open; close or reload the other tabs`,
      { database, waiting },
    );
  }
}

/** What a store holds that deleting it would lose: deleteStore refuses while there is any (UnfinishedWorkError). */
export interface UnfinishedWork {
  /**
   * Events appended here that the sync server has not confirmed: this client's own. Another device's
   * pending events that importLog copied here are not counted: they reach the server from that device
   * only, and deleting this store loses nothing of them.
   */
  pendingEvents: number;
  /** Reactions with events not handled yet (not caught up, a delivery in flight, or parked events). */
  reactions: string[];
  /** Events the server refused or a rebase dropped, kept for the app (sync.rejected()) and not dismissed. */
  rejectedEvents: number;
}

/** deleteStore refused: the store holds work that deleting it would lose; nothing was deleted. */
export class UnfinishedWorkError extends ChronicleError {
  override name = 'UnfinishedWorkError';
  readonly pendingEvents: number;
  readonly reactions: string[];
  readonly rejectedEvents: number;
  constructor(
    readonly database: string,
    work: UnfinishedWork,
  ) {
    const parts = [
      work.pendingEvents > 0 ? `${work.pendingEvents} event(s) appended here that no sync server has confirmed` : '',
      work.reactions.length > 0 ? `reactions with events not handled yet (${work.reactions.join(', ')})` : '',
      work.rejectedEvents > 0 ? `${work.rejectedEvents} rejected event(s) not dismissed` : '',
    ].filter(Boolean);
    super(
      'UNFINISHED_WORK',
      `Store "${database}" holds ${parts.join('; ')}; sync, finish or dismiss them first, or pass { discardUnfinished: true } to delete them ` +
        `anyway${work.pendingEvents > 0 ? ' (a store that does not sync holds its events unconfirmed for good: deleting it always needs that)' : ''}`,
      { database, pendingEvents: work.pendingEvents, reactions: [...work.reactions], rejectedEvents: work.rejectedEvents },
    );
    this.pendingEvents = work.pendingEvents;
    this.reactions = [...work.reactions];
    this.rejectedEvents = work.rejectedEvents;
  }
}

/** The database connection was closed (by the browser, another tab's upgrade, or a failed reopen). */
export class StorageClosedError extends ChronicleError {
  override name = 'StorageClosedError';
  constructor(
    readonly database: string,
    reason: string,
  ) {
    super('STORAGE_CLOSED', `Database "${database}" is closed: ${reason}`, { database, reason });
  }
}

/** Any other IndexedDB failure, with the browser's own error name and message. */
export class StorageError extends ChronicleError {
  override name = 'StorageError';
  constructor(
    readonly operation: string,
    cause: string,
  ) {
    super('STORAGE', `Storage failure during ${operation}: ${cause}`, { operation, cause });
  }
}

/** The store was closed by the application. */
export class StoreClosedError extends ChronicleError {
  override name = 'StoreClosedError';
  /**
   * Why the store closed, when the app did not close it (`'closed'`):
   * `'engine-stopped'`, its engine's worker ended (the browser ended it, or it
   * was terminated): reopen the store; `'deleted'`, its database was deleted
   * under it (`deleteStore` in this or another tab, or the browser cleared the
   * site's data): reopening starts a new, empty store.
   */
  readonly reason: StoreClosedReason;
  constructor(
    readonly database: string,
    reason: StoreClosedReason = 'closed',
  ) {
    super('STORE_CLOSED', STORE_CLOSED_MESSAGES[reason](database), { database, reason });
    this.reason = reason;
  }
}

export type StoreClosedReason = 'closed' | 'engine-stopped' | 'deleted';

const STORE_CLOSED_MESSAGES: Record<StoreClosedReason, (database: string) => string> = {
  closed: (database) => `Store "${database}" has been closed`,
  'engine-stopped': (database) =>
    `Store "${database}" stopped: its engine's worker ended (the browser ended it, or it was terminated); open the store again`,
  deleted: (database) =>
    `Store "${database}" stopped: its database was deleted (deleteStore, in this tab or another, or the browser cleared the site's data); opening it again starts an empty store`,
};

/** A replay job or other long operation was stopped by its AbortSignal. */
export class AbortedError extends ChronicleError {
  override name = 'AbortedError';
  constructor(what: string) {
    super('ABORTED', `${what} was aborted`, { what });
  }
}

/** The store is showing a past state (time travel): it is read-only until resume(). */
export class TimeTravelError extends ChronicleError {
  override name = 'TimeTravelError';
  constructor() {
    super('TIME_TRAVEL', 'The store is time traveling and read-only; call store.timeTravel.resume() first');
  }
}

/** What store.forget() can forget: the checkpoint kinds that hold compaction back and that an app can stop using. */
export type ForgettableKind = 'projection' | 'job' | 'reaction';

/**
 * store.forget() was asked to forget something still in use: registered with
 * this store (`where: 'this-store'`), or a reaction or replay job another tab
 * or engine runs now (`'another-tab'`). Or (`action: 'run'`) store.replay()
 * was asked to run a named job that this store or another tab runs now.
 * Nothing was changed.
 */
export class InUseError extends ChronicleError {
  override name = 'InUseError';
  constructor(
    readonly kind: ForgettableKind,
    readonly target: string,
    readonly where: 'this-store' | 'another-tab',
    readonly action: 'forget' | 'run' = 'forget',
  ) {
    const why = where === 'another-tab' ? 'another tab runs it' : action === 'run' ? 'this store runs it' : 'this store uses it';
    super('IN_USE', `Cannot ${action} the ${kind} "${target}": ${why}`, {
      kind,
      target,
      where,
      action,
    });
  }
}

/** Why an event could not be encrypted or decrypted (EncryptionKeyError.reason). */
export type EncryptionKeyReason =
  /**
   * The store was opened without `sync.encryption`, and encrypted events
   * arrived (pull), or it synced with encryption before, so its events are not
   * pushed in plaintext (push).
   */
  | 'no-keys'
  /** The keys callback failed, or what it returned is not a usable keyring (`.cause` says why). */
  | 'keyring'
  /** A push needs the keyring's `current` key, and the keyring has no key by that id. */
  | 'no-current-key'
  /** `hashAggregateIds` is on and the keyring has no `aggregateIdKey`. */
  | 'no-aggregate-id-key'
  /** An event was encrypted with a key id the keyring does not hold. */
  | 'unknown-key'
  /** AES-GCM refused to open it: the key is wrong, or the ciphertext or the event's clear fields were altered or moved. */
  | 'decrypt-failed'
  /** A plaintext event arrived and the store accepts only encrypted ones (see `acceptPlaintext`). */
  | 'not-encrypted'
  /** The encrypted payload (envelope or what it decrypts to) is not in the documented format. */
  | 'malformed'
  /**
   * A pulled event's clear aggregateId is not the one its ciphertext names (with hashAggregateIds, `h1:` + the
   * keyed hash of the sealed id; without, that id itself): clients of the log disagree on hashAggregateIds
   * or their aggregateIdKey, or a key holder forged the event. Stored, it would split one aggregate in two.
   */
  | 'aggregate-id-mismatch';

export interface EncryptionKeyFacts {
  /** The sync log. */
  log?: string;
  /** Whether it happened while pushing (encrypting) or pulling (decrypting). */
  operation?: 'push' | 'pull';
  /** The key id involved (the envelope's `kid`, or the keyring's `current`). */
  keyId?: string;
  /** The event that could not be encrypted or decrypted. */
  eventId?: string;
  /** What went wrong underneath (the platform's message). */
  cause?: string;
}

const FACT_KEYS = new Set(['log', 'operation', 'keyId', 'eventId', 'cause']);

const ENCRYPTION_MESSAGES: Record<EncryptionKeyReason, (f: EncryptionKeyFacts) => string> = {
  'no-keys': (f) =>
    f.operation === 'push'
      ? `the store has no encryption keys, and it synced with sync.encryption before (${f.cause ?? 'its events were written for an encrypted log'}): its events are not pushed in plaintext; pass sync.encryption`
      : `event ${f.eventId ?? '?'} is encrypted (key "${f.keyId ?? '?'}"), but the store has no encryption keys: pass sync.encryption`,
  keyring: (f) => `the encryption keyring is unusable: ${f.cause ?? 'unknown reason'}`,
  'no-current-key': (f) => `the keyring's current key "${f.keyId ?? ''}" is not among its keys`,
  'no-aggregate-id-key': () => 'sync.encryption.hashAggregateIds needs keyring.aggregateIdKey',
  'unknown-key': (f) => `event ${f.eventId ?? '?'} was encrypted with key "${f.keyId ?? '?'}", which is not in the keyring`,
  'decrypt-failed': (f) =>
    `event ${f.eventId ?? '?'} cannot be decrypted with key "${f.keyId ?? '?'}": the key is wrong, or the ciphertext or the event's clear fields were altered`,
  'not-encrypted': (f) =>
    `event ${f.eventId ?? '?'} is not encrypted, and the store accepts only encrypted events (sync.encryption.acceptPlaintext)`,
  malformed: (f) => `event ${f.eventId ?? '?'} has a malformed encrypted payload: ${f.cause ?? 'unknown reason'}`,
  'aggregate-id-mismatch': (f) =>
    `event ${f.eventId ?? '?'} does not belong to the aggregate the server files it under: ${f.cause ?? 'unknown reason'}`,
};

/**
 * An event could not be encrypted (push) or decrypted (pull): a key is
 * missing or wrong, or the payload is not what it should be. Nothing of the
 * push or of the pulled page was written; the sync stops there (status
 * `error`, this as `lastError`) and tries again later.
 */
export class EncryptionKeyError extends ChronicleError {
  override name = 'EncryptionKeyError';
  readonly log: string | undefined;
  readonly operation: 'push' | 'pull' | undefined;
  readonly keyId: string | undefined;
  readonly eventId: string | undefined;
  constructor(
    readonly reason: EncryptionKeyReason,
    facts: EncryptionKeyFacts = {},
  ) {
    const known = Object.fromEntries(
      Object.entries(facts).filter(([k, v]) => FACT_KEYS.has(k) && typeof v === 'string'),
    ) as EncryptionKeyFacts;
    const where = `${known.operation === 'push' ? 'Cannot push to' : known.operation === 'pull' ? 'Cannot pull from' : 'Sync with'} log "${known.log ?? '?'}"`;
    super('ENCRYPTION_KEY', `${where}: ${ENCRYPTION_MESSAGES[reason](known)}`, { reason, ...known });
    this.log = known.log;
    this.operation = known.operation;
    this.keyId = known.keyId;
    this.eventId = known.eventId;
  }
}

/** Options given to openStore or another API call are wrong. */
export class ConfigError extends ChronicleError {
  override name = 'ConfigError';
  constructor(message: string, details: ErrorDetails = {}) {
    super('CONFIG', message, details);
  }
}

/** What a HistoryCompactedError was asked for: a part of local history that compaction dropped. */
export type CompactedWhat =
  /** A log read from a position before the start of local history. */
  | 'log'
  /** A stream read from a seq that was dropped. */
  | 'stream'
  /** A state that needs dropped events (a projection rebuild, time travel, a load whose base is unusable). */
  | 'state'
  /** An append repeating the id of an event that was stored, confirmed, then compacted. */
  | 'event-id';

/**
 * The request needs confirmed history that retention dropped from this
 * device (the server keeps it). Never a silently different answer: reads
 * that must be exact throw this instead. `historyStartsAt` is the first
 * confirmed position still stored (store.info().historyStartsAt).
 */
export class HistoryCompactedError extends ChronicleError {
  override name = 'HistoryCompactedError';
  constructor(
    readonly what: CompactedWhat,
    readonly historyStartsAt: number,
    facts: ErrorDetails = {},
  ) {
    super('HISTORY_COMPACTED', `${COMPACTED_MESSAGES[what]}: local history starts at position ${historyStartsAt}${describeFacts(facts)}`, {
      ...facts,
      what,
      historyStartsAt,
    });
  }
}

const COMPACTED_MESSAGES: Record<CompactedWhat, string> = {
  log: 'That part of the log was compacted',
  stream: 'That part of the stream was compacted',
  state: 'This state needs compacted events',
  'event-id': 'An event with this id was stored, then compacted: not stored again',
};

function describeFacts(facts: ErrorDetails): string {
  const parts = Object.entries(facts).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/**
 * Rebuilds a ChronicleError of the right class from its JSON form. Classes with
 * positional constructors are rebuilt from their details; unknown codes become
 * a plain ChronicleError that keeps code, message and details.
 */
export function errorFromJSON(e: SerializedError): ChronicleError {
  // What another version of the engine (or the server) sent may lack details or hold facts of other shapes than
  // this version's classes take: the error is still the one it was, so its code and message are kept.
  const details: ErrorDetails = typeof e.details === 'object' && e.details !== null && !Array.isArray(e.details) ? e.details : {};
  try {
    return rebuiltError(e, details);
  } catch {
    return new ChronicleError(e.code as ChronicleErrorCode, e.message, details);
  }
}

function rebuiltError(e: SerializedError, d: ErrorDetails): ChronicleError {
  let err: ChronicleError;
  switch (e.code) {
    case 'CONCURRENCY':
      err = new ConcurrencyError(String(d.aggregateId), d.expected as ExpectedVersion, Number(d.actual));
      break;
    case 'VALIDATION':
      err = new ValidationError(String(d.eventType), String(d.path), String(d.reason), d.index as number | undefined);
      break;
    case 'UNKNOWN_EVENT_TYPE':
      err = new UnknownEventTypeError(String(d.eventType), (d.known as string[]) ?? []);
      break;
    case 'EVENT_TOO_LARGE':
      err = new EventTooLargeError(String(d.eventType), Number(d.bytes), Number(d.limit), d.index as number | undefined);
      break;
    case 'UNSERIALIZABLE':
      err = new UnserializableDataError(String(d.eventType), String(d.path), String(d.reason), d.index as number | undefined);
      break;
    case 'DUPLICATE_IN_BATCH':
      err = new DuplicateInBatchError(String(d.eventId));
      break;
    case 'EVENT_ID_CONFLICT':
      err = new EventIdConflictError(
        String(d.eventId),
        String(d.aggregateId),
        String(d.storedAggregateId),
        d.reason === 'other-stream' ? 'other-stream' : 'different-content',
      );
      break;
    case 'STORAGE_QUOTA':
      err = new StorageQuotaError(String(d.cause));
      break;
    case 'STORAGE_BLOCKED':
      err = new StorageBlockedError(String(d.database), d.waiting === 'delete' ? 'delete' : 'upgrade');
      break;
    case 'STORAGE_CLOSED':
      err = new StorageClosedError(String(d.database), String(d.reason));
      break;
    case 'STORAGE':
      err = new StorageError(String(d.operation), String(d.cause));
      break;
    case 'UNFINISHED_WORK':
      err = new UnfinishedWorkError(String(d.database), {
        pendingEvents: Number(d.pendingEvents),
        reactions: Array.isArray(d.reactions) ? d.reactions.map(String) : [],
        rejectedEvents: Number(d.rejectedEvents),
      });
      break;
    case 'STORE_CLOSED':
      err = new StoreClosedError(String(d.database), d.reason === 'engine-stopped' || d.reason === 'deleted' ? d.reason : 'closed');
      break;
    case 'TIME_TRAVEL':
      err = new TimeTravelError();
      break;
    case 'ABORTED':
      err = new AbortedError(String(d.what));
      break;
    case 'IN_USE':
      err = new InUseError(
        d.kind as ForgettableKind,
        String(d.target),
        d.where === 'another-tab' ? 'another-tab' : 'this-store',
        d.action === 'run' ? 'run' : 'forget',
      );
      break;
    case 'CONFIG':
      err = new ConfigError(e.message, d);
      break;
    case 'HISTORY_COMPACTED': {
      const { what, historyStartsAt, ...facts } = d;
      err = new HistoryCompactedError(what as CompactedWhat, Number(historyStartsAt), facts);
      break;
    }
    case 'ENCRYPTION_KEY':
      err = new EncryptionKeyError(d.reason as EncryptionKeyReason, d as EncryptionKeyFacts);
      break;
    default:
      // A code this version does not know (a newer server's, say) is kept as it came.
      err = new ChronicleError(e.code as ChronicleErrorCode, e.message, d);
  }
  if (err.message !== e.message) err.message = e.message;
  return err;
}

export function isSerializedError(value: unknown): value is SerializedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SerializedError).code === 'string' &&
    typeof (value as SerializedError).message === 'string'
  );
}
