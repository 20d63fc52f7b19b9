/**
 * A structural diff between two states, bounded in time and size.
 *
 * Reducers return new objects and share the parts they did not touch, so
 * identical references are not walked into. Maps are compared by key, Sets by
 * member, arrays by index, objects by own keys. Every index, key and member
 * looked at counts as a visit, equal or not: past `maxVisits` of them (or
 * `maxChanges` changes) the walk stops and the result says it is truncated,
 * so a million equal items, or an array of length 2**32 - 1 that is all holes,
 * costs at most `maxVisits` steps.
 */
import type { Encoded } from './encode.ts';

export type PathStep =
  { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'mapKey'; label: string } | { kind: 'member' };

export interface DiffChange {
  /** Where, readable: `.lines.tea.qty`, `[3]`, `.get("k")`; empty for the whole value. */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: Encoded;
  after?: Encoded;
}

export interface DiffResult {
  changes: DiffChange[];
  /** More changes exist than were listed, or the walk stopped early. */
  truncated: boolean;
}

export interface DiffOptions {
  maxChanges?: number;
  maxVisits?: number;
  maxDepth?: number;
}

type Kind = 'primitive' | 'array' | 'map' | 'set' | 'date' | 'object' | 'other';

function kindOf(value: unknown): Kind {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return 'primitive';
  if (typeof value === 'function') return 'other';
  try {
    if (Array.isArray(value)) return 'array';
    if (value instanceof Map) return 'map';
    if (value instanceof Set) return 'set';
    if (value instanceof Date) return 'date';
    if (value instanceof RegExp || value instanceof Error || ArrayBuffer.isView(value)) return 'other';
  } catch {
    // A revoked Proxy (a leaked Immer draft) or one whose traps throw: compared by identity, shown as unreadable.
    return 'other';
  }
  return 'object';
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keyLabel(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    default:
      return value === null ? 'null' : Array.isArray(value) ? '[…]' : '{…}';
  }
}

export function formatPath(steps: readonly PathStep[]): string {
  let out = '';
  for (const step of steps) {
    if (step.kind === 'key') out += IDENTIFIER.test(step.key) ? `.${step.key}` : `[${JSON.stringify(step.key)}]`;
    else if (step.kind === 'index') out += `[${step.index}]`;
    else if (step.kind === 'mapKey') out += `.get(${step.label})`;
    else out += ' (member)';
  }
  return out;
}

function safeKeys(value: object): string[] {
  try {
    return Object.keys(value);
  } catch {
    return [];
  }
}

function safeGet(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function protoOf(value: object): unknown {
  try {
    return Object.getPrototypeOf(value);
  } catch {
    return null;
  }
}

/** Lists what changed from `before` to `after`; values are encoded with `encode`. */
export function diffValues(before: unknown, after: unknown, encode: (value: unknown) => Encoded, options: DiffOptions = {}): DiffResult {
  const maxChanges = options.maxChanges ?? 200;
  const maxVisits = options.maxVisits ?? 200_000;
  const maxDepth = options.maxDepth ?? 64;
  const changes: DiffChange[] = [];
  let truncated = false;
  let visits = 0;
  const path: PathStep[] = [];
  // Pairs on the current walk: a cycle is compared once.
  const walking = new Map<object, Set<object>>();

  const full = () => {
    if (changes.length >= maxChanges) {
      truncated = true;
      return true;
    }
    return false;
  };
  const add = (kind: DiffChange['kind'], a: unknown, b: unknown) => {
    if (full()) return;
    const change: DiffChange = { path: formatPath(path), kind };
    if (kind !== 'added') change.before = encode(a);
    if (kind !== 'removed') change.after = encode(b);
    changes.push(change);
  };

  /** Counts one step of the walk; false (and truncated) once the budget is spent. */
  const visit = (): boolean => {
    if (truncated) return false;
    if (++visits > maxVisits) {
      truncated = true;
      return false;
    }
    return true;
  };

  /** Compares a pair whose visit was counted by the caller (the loop over the container holding it). */
  const walk = (a: unknown, b: unknown, depth: number): void => {
    if (Object.is(a, b)) return;
    const ka = kindOf(a);
    const kb = kindOf(b);
    if (ka !== kb || ka === 'primitive' || ka === 'other' || depth >= maxDepth) {
      add('changed', a, b);
      return;
    }
    if (ka === 'date') {
      let same = false;
      try {
        same = (a as Date).getTime() === (b as Date).getTime();
      } catch {
        // A Proxy of a Date passes instanceof but has no time to read: shown as changed.
      }
      if (!same) add('changed', a, b);
      return;
    }
    const oa = a as object;
    const ob = b as object;
    let seen = walking.get(oa);
    if (seen?.has(ob)) return;
    if (!seen) walking.set(oa, (seen = new Set()));
    seen.add(ob);
    const pathLength = path.length;
    try {
      if (ka === 'array') {
        const la = a as unknown[];
        const lb = b as unknown[];
        const length = Math.max(la.length, lb.length);
        // Holes too: a sparse array of length 2**32 - 1 stops at the budget.
        for (let i = 0; i < length && visit(); i++) {
          path.push({ kind: 'index', index: i });
          if (i >= la.length) add('added', undefined, lb[i]);
          else if (i >= lb.length) add('removed', la[i], undefined);
          else walk(la[i], lb[i], depth + 1);
          path.pop();
        }
      } else if (ka === 'map') {
        const ma = a as Map<unknown, unknown>;
        const mb = b as Map<unknown, unknown>;
        for (const [key, value] of ma) {
          if (!visit()) break;
          path.push({ kind: 'mapKey', label: keyLabel(key) });
          if (!mb.has(key)) add('removed', value, undefined);
          else walk(value, mb.get(key), depth + 1);
          path.pop();
        }
        for (const [key, value] of mb) {
          if (!visit()) break;
          if (ma.has(key)) continue;
          path.push({ kind: 'mapKey', label: keyLabel(key) });
          add('added', undefined, value);
          path.pop();
        }
      } else if (ka === 'set') {
        const sa = a as Set<unknown>;
        const sb = b as Set<unknown>;
        path.push({ kind: 'member' });
        for (const member of sa) {
          if (!visit()) break;
          if (!sb.has(member)) add('removed', member, undefined);
        }
        for (const member of sb) {
          if (!visit()) break;
          if (!sa.has(member)) add('added', undefined, member);
        }
        path.pop();
      } else {
        if (protoOf(oa) !== protoOf(ob)) {
          add('changed', a, b);
          return;
        }
        const keysA = safeKeys(oa);
        const keysB = safeKeys(ob);
        const inB = new Set(keysB);
        for (const key of keysA) {
          if (!visit()) break;
          path.push({ kind: 'key', key });
          if (!inB.has(key)) add('removed', safeGet(oa, key), undefined);
          else walk(safeGet(oa, key), safeGet(ob, key), depth + 1);
          path.pop();
        }
        const inA = new Set(keysA);
        for (const key of keysB) {
          if (!visit()) break;
          if (inA.has(key)) continue;
          path.push({ kind: 'key', key });
          add('added', undefined, safeGet(ob, key));
          path.pop();
        }
      }
    } catch {
      // A Proxy of a Map or Set passes instanceof but cannot be iterated, a revoked one inside cannot be read:
      // the pair shows as changed, at its own path, instead of the diff failing.
      path.length = pathLength;
      add('changed', a, b);
    } finally {
      seen.delete(ob);
    }
  };

  if (visit()) walk(before, after, 0);
  return { changes, truncated };
}
