/**
 * Event data travels as JSON (to IndexedDB as a JSON page, to the server over
 * HTTP), so it must be plain JSON data. JSON.stringify would silently drop
 * functions and undefined, turn NaN into null and Dates into strings: an event
 * read back would differ from the one appended. This walk rejects all of that
 * with the path of the first offending value.
 */
import { findStringProblem, MAX_DATA_DEPTH } from './text-rules.ts';

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
