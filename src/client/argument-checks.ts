import { ConfigError, ValidationError } from '../core/errors.ts';

/**
 * Checks of the store's arguments that their types already state: an app in
 * plain JavaScript (or a value cast on its way in) gets a typed error naming
 * the argument, not a TypeError from deep inside ("Cannot read properties of
 * null"). Pure: no I/O.
 */

type DefinitionKind = 'event' | 'aggregate' | 'projection' | 'reaction';

const DEFINE: Record<DefinitionKind, string> = {
  event: 'defineEvent',
  aggregate: 'defineAggregate',
  projection: 'defineProjection',
  reaction: 'defineReaction',
};

function isDefinition(value: unknown, kind: DefinitionKind): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === kind;
}

/** openStore's `events`, `aggregates`, `projections` and `reactions`: absent, or arrays of the right definitions. */
export function checkDefinitionLists(options: Record<string, unknown>): void {
  const lists: [string, DefinitionKind][] = [
    ['events', 'event'],
    ['aggregates', 'aggregate'],
    ['projections', 'projection'],
    ['reactions', 'reaction'],
  ];
  for (const [option, kind] of lists) {
    const value = options[option];
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((entry) => isDefinition(entry, kind))) {
      throw new ConfigError(`openStore's ${option} must be an array of ${DEFINE[kind]}(...) definitions`, { option });
    }
  }
}

/** A definition passed to a call (load, inspect, projection...): refused unless it is one of `kind`. */
export function checkDefinition(value: unknown, kind: 'aggregate' | 'projection'): void {
  if (!isDefinition(value, kind)) throw new ValidationError('?', kind, `must be a ${DEFINE[kind]}(...) definition`);
}

/**
 * A callback a call takes (a listener, `onError`): a function, or absent where `optional`. Refused when it is
 * given: called later, a non-function would throw a TypeError into whatever calls it (close(), a delivery).
 */
export function checkCallback(value: unknown, what: string, optional = false): void {
  if (typeof value === 'function' || (optional && value === undefined)) return;
  throw new ValidationError('?', what, `must be a function${optional ? ' or left out' : ''} (got ${describeArgument(value)})`);
}

/**
 * A long job's `signal` and `onProgress` (replay, rebuild, compact), checked before the job starts: a signal
 * without addEventListener failed with a TypeError, and an onProgress that is no function only once the job
 * had finished and saved its work.
 */
export function checkJobOptions(options: unknown, call: string): void {
  if (options === undefined || options === null) return;
  const { signal, onProgress } = options as { signal?: unknown; onProgress?: unknown };
  const isSignal = (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as AbortSignal).addEventListener === 'function' && 'aborted' in value;
  if (signal !== undefined && !isSignal(signal))
    throw new ConfigError(`${call} signal must be an AbortSignal (got ${describeArgument(signal)})`);
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new ConfigError(`${call} onProgress must be a function (got ${describeArgument(onProgress)})`);
}

/** An options object a call needs (inspect's, replay's): an object, or a ValidationError naming it. */
export function checkOptionsObject(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('?', what, 'must be an options object');
  }
}

/** importLog's source: the export's text, or an (async) iterable of its lines. */
export function checkLogSource(source: unknown): void {
  if (typeof source === 'string') return;
  const iterable =
    typeof source === 'object' &&
    source !== null &&
    (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function');
  if (!iterable) throw new ValidationError('?', 'source', 'must be the exported text or an (async) iterable of its lines');
}

/**
 * A value as an error message shows it: a string quoted as JSON (a "3" is not the number 3) and cut after 40
 * characters, an object, array or function by its kind, anything else as String() shows it. Never throws (a
 * revoked Proxy throws even in Array.isArray): the error it is for is the one to report.
 */
export function describeArgument(value: unknown): string {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    if (typeof value === 'function') return 'a function';
    if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
    if (typeof value === 'bigint') return `${value}n`;
    return String(value);
  } catch {
    return typeof value;
  }
}

/**
 * A name or id argument (a reaction's name, an event id): a string, or a ValidationError naming it. Checked
 * before it becomes an IndexedDB key, where `undefined` or `{}` fails as a DataError that reads as a storage failure.
 */
export function checkStringArgument(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new ValidationError('?', what, `must be a string (got ${describeArgument(value)})`);
}

/** A list of event ids (dismissRejected's): absent, or an array of strings. */
export function checkIdList(ids: unknown, what: string): void {
  if (ids === undefined) return;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw new ValidationError('?', what, 'must be an array of event ids');
  }
}
