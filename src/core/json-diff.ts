/**
 * Where two JSON values first differ: the path (`data.tags.__proto__`) and
 * the two values there; undefined when they are equal. Pure; for JSON data only (objects, arrays,
 * strings, finite numbers, booleans, null): key order does not count, and a
 * key whose value is undefined counts as absent (what JSON.stringify writes).
 *
 * The data check uses it to tell data a schema accepts as it is from data
 * the schema only accepts by changing it (an unknown key stripped, a default
 * filled): readers of the current version get stored data as it is, so only
 * the first may be stored (src/core/data-check.ts).
 */
export interface JsonDifference {
  path: string;
  /** The values there (undefined: absent). */
  left: unknown;
  right: unknown;
}

export function firstJsonDifference(a: unknown, b: unknown, path = 'data'): JsonDifference | undefined {
  if (a === b) return undefined;
  const here = { path, left: a, right: b };
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return here;
  if (Array.isArray(a) !== Array.isArray(b)) return here;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return here;
    for (let i = 0; i < a.length; i++) {
      const difference = firstJsonDifference(a[i], other[i], `${path}[${i}]`);
      if (difference !== undefined) return difference;
    }
    return undefined;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // Own keys only (JSON.parse makes "__proto__" an own key; a schema may drop it).
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) {
    const inLeft = Object.hasOwn(left, key) ? left[key] : undefined;
    const inRight = Object.hasOwn(right, key) ? right[key] : undefined;
    const difference = firstJsonDifference(inLeft, inRight, `${path}.${key}`);
    if (difference !== undefined) return difference;
  }
  return undefined;
}
