/**
 * Cursor rules for the panel: the order itself is core's (one definition for
 * the engine, the client and devtools); this adds the search the timeline
 * needs.
 */
import { compareCursor, type LogCursor } from '../core/index.ts';

export { compareCursor, sameCursor } from '../core/index.ts';

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
