import { StorageError, UnserializableDataError } from '../core/errors.ts';
import { describeThrown } from '../core/thrown.ts';

/**
 * What may be stored as an aggregate's snapshot or a projection's record: a
 * state IndexedDB gives back as it was (README, "What a state may hold").
 */

/**
 * Where storing a state would change it or fail, and why. `path` starts at
 * `state`: `state.lines[2].price`, `state.byId.get("k")`.
 */
export interface StateProblem {
  path: string;
  reason: string;
}

/** Who a state belongs to, for its error: an aggregate's stream or a projection. */
export type StateOwner = { aggregateType: string; aggregateId: string } | { projection: string };

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The prototype of the global class an object's tag names (`[object Date]`: Date.prototype), if there is one. */
function builtIn(value: object): unknown {
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  return (globalThis as unknown as Record<string, { prototype?: unknown } | undefined>)[tag]?.prototype;
}

/** How a problem's path goes one step down: into a property, a Map's keys or one of its values, a Set. */
function stepText(key: unknown, how: 'key' | 'index' | 'mapKey' | 'mapValue' | 'member'): string {
  const text = String(key);
  if (how === 'index') return `[${text}]`;
  if (how === 'key') return IDENTIFIER.test(text) ? `.${text}` : `[${JSON.stringify(text)}]`;
  if (how === 'mapValue') return `.get(${typeof key === 'string' ? JSON.stringify(key) : text})`;
  return how === 'mapKey' ? '.keys()' : '.values()';
}

/**
 * Checks a state that is about to be stored (a snapshot, a projection's
 * record). IndexedDB stores it with the structured clone, which throws on
 * functions and symbols and silently changes other things: a class
 * instance comes back a plain object without its methods, an object made
 * with Object.create(null) gets Object's prototype, symbol-keyed and
 * non-enumerable properties are dropped. A state storage would change is
 * reported, never stored, so a state read back is the state folded.
 * `keepsAsJson` is false when JSON text, the compact form snapshots use for
 * plain data, would change it where findJsonProblem does not look (-0 comes
 * back 0, a hole in an array null, an array's extra keys go).
 *
 * Each object is visited once per walk (the clone keeps cycles and shared
 * parts). Nothing is remembered between walks: a handler or reducer may have
 * changed an object in place since. A state nested deeper than the walk's
 * stack goes is reported (the clone's own recursion gives up well before).
 */
export function checkState(state: unknown): { problem: StateProblem | undefined; keepsAsJson: boolean } {
  const seen = new Set<object>();
  let keepsAsJson = true;
  // A problem below `value`: [its path from `value`, built on the way back up (valid states build no strings), reason].
  const walk = (value: unknown): [string, string] | undefined => {
    if (typeof value === 'function' || typeof value === 'symbol') return ['', `a ${typeof value} (storage cannot keep it)`];
    if (Object.is(value, -0)) keepsAsJson = false;
    if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
    seen.add(value);
    try {
      let found: [string, string] | undefined;
      const inside = (item: unknown, key: unknown, how: Parameters<typeof stepText>[1]) => {
        found = walk(item);
        if (found) found[0] = stepText(key, how) + found[0];
        return found;
      };
      const proto: unknown = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (proto === (isArray ? Array.prototype : Object.prototype)) {
        const keys = Object.keys(value);
        if (isArray && keys.length !== (value as unknown[]).length) keepsAsJson = false;
        // All own keys are the enumerable string ones (and an array's length): nothing the clone would leave out.
        if (Reflect.ownKeys(value).length !== keys.length + Number(isArray)) {
          return ['', 'a symbol-keyed or non-enumerable property (storage drops it)'];
        }
        for (const key of keys) {
          if (inside((value as Record<string, unknown>)[key], key, isArray && /^\d+$/.test(key) ? 'index' : 'key')) return found;
        }
      } else if (proto === Map.prototype) {
        for (const [key, item] of value as Map<unknown, unknown>)
          if (inside(key, key, 'mapKey') ?? inside(item, key, 'mapValue')) return found;
      } else if (proto === Set.prototype) {
        for (const item of value as Set<unknown>) if (inside(item, item, 'member')) return found;
      } else if (builtIn(value) !== proto) {
        // Not a built-in the clone gives back as it is (Date, RegExp, ArrayBuffer, a typed array, Blob...).
        const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name;
        return [
          '',
          proto
            ? `an instance of ${name || 'a class'} (storage would drop its class and methods)`
            : 'an object without a prototype (storage would give it one)',
        ];
      }
      return undefined;
    } catch (error) {
      // A getter that throws, a revoked Proxy (a leaked Immer draft), a state nested too deep for the walk.
      return ['', error instanceof RangeError ? 'nested too deep to store' : `unreadable (${describeThrown(error)})`];
    }
  };
  const found = walk(state);
  return found ? { problem: { path: `state${found[0]}`, reason: found[1] }, keepsAsJson: false } : { problem: undefined, keepsAsJson };
}

/**
 * The typed error for a state that cannot be stored as it is, naming its
 * aggregate (`details.aggregateType`, `details.aggregateId`) or projection
 * (`details.projection`) and the path.
 */
export function unstorableState(owner: StateOwner, problem: StateProblem): UnserializableDataError {
  // No event is at fault: the state the reducers or handlers returned is, and `eventType` stays empty.
  const error = new UnserializableDataError('', problem.path, problem.reason);
  const who = 'projection' in owner ? `projection "${owner.projection}"` : `aggregate ${owner.aggregateType} "${owner.aggregateId}"`;
  error.message = `The state of ${who} cannot be stored as it is: ${problem.path}: ${problem.reason}`;
  Object.assign(error.details, owner);
  return error;
}

/**
 * The typed error for a state the structured clone refused although
 * checkState let it pass (a live Proxy, nesting deeper than the clone
 * goes), whether the clone ran in-process (a StorageError) or in the
 * postMessage to the worker (the platform's own error); undefined for any
 * other failure.
 */
export function cloneFailure(error: unknown, owner: StateOwner): UnserializableDataError | undefined {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  const text = error instanceof StorageError ? String(error.details.cause) : `${String(name)}: ${String(message)}`;
  if (!/^(DataCloneError|RangeError)\b/.test(text)) return undefined;
  return unstorableState(owner, { path: 'state', reason: `not clonable (${text})` });
}
