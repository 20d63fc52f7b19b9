import type { LogCursor } from '../client/index.ts';

/** Orders two places in the log: negative if a comes first. */
export function compareCursor(a: LogCursor, b: LogCursor): number {
  return a.area - b.area || a.page - b.page || a.index - b.index;
}

export function sameCursor(a: LogCursor | null | undefined, b: LogCursor | null | undefined): boolean {
  if (!a || !b) return a === b || (!a && !b);
  return compareCursor(a, b) === 0;
}

/**
 * The index of the last item at or before `cursor` in a list sorted by cursor,
 * or -1 when every item comes after it.
 */
export function lastAtOrBefore(length: number, cursorAt: (index: number) => LogCursor, cursor: LogCursor): number {
  let lo = 0;
  let hi = length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compareCursor(cursorAt(mid), cursor) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
