import { describe, expect, it } from 'vitest';
import { compareCursor, isAfter, laterEnd, pageEndCursor, pendingStartOf, sameCursor, slotOf, storedAfter } from '../../src/core/cursor.ts';

// The cursor rules of core/cursor.ts, without storage: given places in the log, then their order.

describe('log cursors', () => {
  it('given two places, then confirmed come before pending, then by page, then by index', () => {
    expect(compareCursor({ area: 0, page: 900, index: 5 }, { area: 1, page: 1, index: 0 })).toBeLessThan(0);
    expect(compareCursor({ area: 1, page: 2, index: 0 }, { area: 1, page: 1, index: 9 })).toBeGreaterThan(0);
    expect(compareCursor({ area: 1, page: 2, index: 3 }, { area: 1, page: 2, index: 3 })).toBe(0);
    expect(isAfter({ area: 0, page: 1, index: 0 }, null)).toBe(true);
    expect(isAfter({ area: 0, page: 1, index: 0 }, { area: 0, page: 1, index: 0 })).toBe(false);
    expect(sameCursor(null, undefined)).toBe(true);
    expect(sameCursor({ area: 0, page: 1, index: 0 }, null)).toBe(false);
  });

  it("given a page, then its end is its last event's cursor: nothing of it is after that", () => {
    const page = { area: 0, page: 201, count: 100 };
    expect(pageEndCursor(page)).toEqual({ area: 0, page: 201, index: 99 });
    expect(isAfter({ area: 0, page: 201, index: 99 }, pageEndCursor(page))).toBe(false);
    expect(isAfter({ area: 0, page: 301, index: 0 }, pageEndCursor(page))).toBe(true);
  });

  it('given a pending page that lost events, then its events keep the indexes they were first written at', () => {
    // Written with 10 events; the sync confirmed the first 4 and a rebase dropped the 7th.
    const page = { area: 1, page: 3, count: 5, slots: [4, 5, 7, 8, 9] };
    expect([0, 1, 2, 3, 4].map((i) => slotOf(page, i))).toEqual([4, 5, 7, 8, 9]);
    expect(pageEndCursor(page)).toEqual({ area: 1, page: 3, index: 9 });
    // A page without slots (never rewritten, or stored before slots were kept): 0, 1, 2, ...
    expect(slotOf({}, 3)).toBe(3);
  });

  it('given the log end when the store opened, then only events stored later count as stored after it', () => {
    const end = { confirmedHead: 10, nextLsn: 4 };
    expect(storedAfter({ area: 0, page: 8, index: 2 }, 10, end)).toBe(false);
    expect(storedAfter({ area: 0, page: 8, index: 3 }, 11, end)).toBe(true);
    // A confirmed cursor without the event: its position is page + index.
    expect(storedAfter({ area: 0, page: 11, index: 0 }, undefined, end)).toBe(true);
    expect(storedAfter({ area: 1, page: 3, index: 99 }, undefined, end)).toBe(false);
    expect(storedAfter({ area: 1, page: 4, index: 0 }, undefined, end)).toBe(true);
  });

  it('given two ends heard in any order, then the later end wins field by field', () => {
    expect(laterEnd({ confirmedHead: 5, nextLsn: 9 }, { confirmedHead: 7, nextLsn: 2 })).toEqual({ confirmedHead: 7, nextLsn: 9 });
  });

  it('given an end, then a pending scan from pendingStartOf sees exactly the pages allocated since', () => {
    const start = pendingStartOf({ confirmedHead: 0, nextLsn: 4 });
    expect(isAfter({ area: 1, page: 3, index: 1_000_000 }, start)).toBe(false);
    expect(isAfter({ area: 1, page: 4, index: 0 }, start)).toBe(true);
  });
});
