import type { StoredEvent } from './event.ts';

/**
 * Whether two stored events are the same event: every field equal, `data`
 * and `meta` as JSON values (the order of an object's keys aside, which JSON
 * does not give a meaning). importLog skips the events a store holds already
 * only when the file's are these very events, not just ones with their ids.
 * Pure.
 */
export function sameStoredEvent(a: StoredEvent, b: StoredEvent): boolean {
  return (
    a.id === b.id &&
    a.aggregateId === b.aggregateId &&
    a.aggregateType === b.aggregateType &&
    a.seq === b.seq &&
    a.type === b.type &&
    a.version === b.version &&
    a.position === b.position &&
    sameJsonValue(a.meta, b.meta) &&
    sameJsonValue(a.data, b.data)
  );
}

/** Equality of two JSON values (as JSON.parse makes them), objects compared by their own keys in any order. */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJsonValue(a[i], b[i])) return false;
    return true;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !sameJsonValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
