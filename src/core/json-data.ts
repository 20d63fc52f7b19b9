/**
 * Event data travels as JSON (to IndexedDB as a JSON page, to the server over
 * HTTP), so it must be plain JSON data. JSON.stringify would silently drop
 * functions and undefined, turn NaN into null and Dates into strings: an event
 * read back would differ from the one appended. This walk rejects all of that
 * with the path of the first offending value.
 */
import { findStringProblem, MAX_DATA_DEPTH } from './text-rules.ts';
import { describeThrown } from './thrown.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface JsonProblem {
  path: string;
  reason: string;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return 'a bigint (store it as a string)';
  if (value === undefined) return 'undefined (omit the key or use null)';
  if (value instanceof Date) return 'a Date (store an ISO string or epoch milliseconds)';
  if (value instanceof Map || value instanceof Set) return `a ${value.constructor.name} (store an array or object)`;
  const ctor = (value as object).constructor;
  return `an instance of ${ctor?.name ?? 'a class'} (only plain objects and arrays are JSON data)`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** A walk's state: the objects on the path to the value being looked at, and a problem's keys, innermost first. */
interface Walk {
  ancestors: object[];
  at: (string | number)[];
  maxDepth: number;
}

const found = (reason: string): JsonProblem => ({ path: '', reason });

// Recursion is bounded by maxDepth, so a hostile 10,000-level value cannot overflow the stack.
function walk(v: unknown, depth: number, state: Walk): JsonProblem | undefined {
  if (v === null || typeof v === 'boolean') return undefined;
  if (typeof v === 'string') {
    const problem = findStringProblem(v);
    return problem ? found(`the string ${problem}`) : undefined;
  }
  if (typeof v === 'number') {
    return Number.isFinite(v) ? undefined : found(`${v} is not a finite number`);
  }
  if (typeof v !== 'object') return found(`${describe(v)} is not JSON data`);
  // The path holds at most maxDepth objects: looking through it is cheaper than a Set per walk.
  const { ancestors, at } = state;
  if (ancestors.includes(v)) return found('a cycle: this object contains itself');
  if (depth >= state.maxDepth) return found(`nested more than ${state.maxDepth} levels deep`);
  const isArray = Array.isArray(v);
  if (!isArray) {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return found(`${describe(v)} is not JSON data`);
  }
  ancestors.push(v);
  if (isArray) {
    for (let i = 0; i < v.length; i++) {
      const p = walk(v[i], depth + 1, state);
      if (p) {
        at.push(i);
        return p;
      }
    }
  } else {
    for (const key of Object.keys(v)) {
      const keyProblem = findStringProblem(key);
      if (keyProblem) {
        at.push(key);
        return found(`the key ${keyProblem}`);
      }
      const p = walk((v as Record<string, unknown>)[key], depth + 1, state);
      if (p) {
        at.push(key);
        return p;
      }
    }
  }
  ancestors.pop();
  return undefined;
}

/**
 * Returns the first problem found, or undefined when `value` is plain JSON data
 * that every store keeps as it is: finite numbers, storable strings (keys too,
 * see text-rules.ts) and at most `maxDepth` levels of objects and arrays.
 */
export function findJsonProblem(value: unknown, maxDepth: number = MAX_DATA_DEPTH): JsonProblem | undefined {
  // The path of a problem is built on the way back up from it: a walk over valid data, the common case, makes no path strings.
  const state: Walk = { ancestors: [], at: [], maxDepth };
  const problem = walk(value, 0, state);
  if (!problem) return undefined;
  let path = '';
  for (let i = state.at.length - 1; i >= 0; i--) path = join(path, state.at[i]!);
  problem.path = path;
  return problem;
}

/**
 * UTF-8 byte length of a string, counted from its UTF-16 code units without
 * allocating (and without TextEncoder: core uses no platform API it can avoid).
 * A lone surrogate counts 3 bytes, as TextEncoder writes U+FFFD for it.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      // A surrogate pair: two code units, four bytes.
      bytes += 2;
      i++;
      continue;
    }
    bytes += 2;
  }
  return bytes;
}

/** What stringifyJsonData refused: the problem, and whether app code threw while the data was read (a getter, a Proxy's trap). */
export interface JsonDataProblem extends JsonProblem {
  thrown: boolean;
}

/** A refusal on its way up the walk: the keys of its path are added by each level it leaves, innermost first. */
class Refusal {
  readonly at: (string | number)[] = [];
  constructor(
    readonly reason: string,
    readonly thrown: boolean,
  ) {}
}

// What JSON.stringify escapes, and surrogates (a storable pair included, left to the slow path): a string
// without any of them is written as it is between quotes.
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(text: string, what: 'the string' | 'the key'): string {
  if (!NEEDS_CARE.test(text)) return `"${text}"`;
  const problem = findStringProblem(text);
  if (problem !== undefined) throw new Refusal(`${what} ${problem}`, false);
  return JSON.stringify(text);
}

function writeValue(value: unknown, depth: number, ancestors: object[]): string {
  if (typeof value === 'string') return quote(value, 'the string');
  if (typeof value === 'number') {
    // For a finite number JSON.stringify writes what String() does (-0 as 0).
    if (Number.isFinite(value)) return String(value);
    throw new Refusal(`${value} is not a finite number`, false);
  }
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'object') throw new Refusal(`${describe(value)} is not JSON data`, false);
  return writeObject(value, depth, ancestors);
}

// The same rule as walk() above, in the same order, so both refuse the same values with the same reasons.
function writeObject(value: object, depth: number, ancestors: object[]): string {
  if (ancestors.includes(value)) throw new Refusal('a cycle: this object contains itself', false);
  if (depth >= MAX_DATA_DEPTH) throw new Refusal(`nested more than ${MAX_DATA_DEPTH} levels deep`, false);
  const isArray = Array.isArray(value);
  if (!isArray) {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new Refusal(`${describe(value)} is not JSON data`, false);
  }
  ancestors.push(value);
  // The key being read: a refusal or a throw below it is at that key; one before any key is at this object.
  let at: string | number | undefined;
  let out: string;
  try {
    if (isArray) {
      out = '[';
      const length = value.length;
      for (let i = 0; i < length; i++) {
        at = i;
        const item: unknown = value[i];
        out += (i === 0 ? '' : ',') + writeValue(item, depth + 1, ancestors);
      }
      out += ']';
    } else {
      out = '{';
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        at = key;
        const name = quote(key, 'the key');
        const item = (value as Record<string, unknown>)[key];
        out += (i === 0 ? '' : ',') + name + ':' + writeValue(item, depth + 1, ancestors);
      }
      out += '}';
    }
  } catch (error) {
    const refusal = error instanceof Refusal ? error : new Refusal(`reading it threw: ${describeThrown(error)}`, true);
    if (at !== undefined) refusal.at.push(at);
    throw refusal;
  }
  ancestors.pop();
  return out;
}

/**
 * `value` as JSON, when it is the data findJsonProblem accepts; otherwise the
 * first problem, with its path. One walk reads each value once, checks it and
 * writes it: data checked and then serialised separately could change in
 * between (a getter, a Proxy), and what was checked would not be what is
 * stored (a getter's 1 checked, its NaN stored as null). For the data it
 * accepts, the JSON is what JSON.stringify writes (a `toJSON` is not called:
 * an object with one is refused as findJsonProblem refuses it). About as fast
 * as findJsonProblem followed by JSON.stringify.
 */
export function stringifyJsonData(value: unknown): string | JsonDataProblem {
  try {
    return writeValue(value, 0, []);
  } catch (error) {
    // A throw before any key was read (a Proxy's trap on the root itself) is not a Refusal yet.
    const refusal = error instanceof Refusal ? error : new Refusal(`reading it threw: ${describeThrown(error)}`, true);
    let path = '';
    for (let i = refusal.at.length - 1; i >= 0; i--) path = join(path, refusal.at[i]!);
    return { path, reason: refusal.reason, thrown: refusal.thrown };
  }
}
