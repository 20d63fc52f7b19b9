import { describe, expect, it } from 'vitest';
import {
  checkNotDroppedSince,
  checkRetention,
  firstWantedPosition,
  horizonOf,
  jobThrough,
  pagesOverPolicy,
  projectionThrough,
  startsBeforeHistory,
  type PageFacts,
} from '../../src/core/compaction.ts';
import { ConfigError, errorFromJSON, HistoryCompactedError } from '../../src/core/errors.ts';

/** The pure rules of compaction (src/core/compaction.ts): policy, horizon, where reads start. */

const page = (first: number, count: number, t1: number, bytes = count * 100): PageFacts => ({ first, count, t1, bytes });
const pages = [page(1, 10, 100), page(11, 10, 200), page(21, 10, 300), page(31, 10, 400)];

describe('retention policy', () => {
  it('drops the oldest pages while any limit is exceeded, and stops at the first page none wants gone', () => {
    const totals = { confirmedEvents: 40, confirmedBytes: 4000 };
    expect(pagesOverPolicy(pages, totals, { maxEvents: 25 }, 0)).toBe(2);
    expect(pagesOverPolicy(pages, totals, { maxEvents: 40 }, 0)).toBe(0);
    expect(pagesOverPolicy(pages, totals, { maxEvents: 0 }, 0)).toBe(4);
    expect(pagesOverPolicy(pages, totals, { maxBytes: 1500 }, 0)).toBe(3);
    // Age: a page goes when its newest event is older than the limit.
    expect(pagesOverPolicy(pages, totals, { maxAgeMs: 1000 }, 1250)).toBe(2);
    // Any limit reached is enough: the count keeps going after the age stops.
    expect(pagesOverPolicy(pages, totals, { maxAgeMs: 1000, maxEvents: 15 }, 1150)).toBe(3);
    // What remains is a suffix: an old page after a young one waits.
    expect(pagesOverPolicy([page(1, 10, 900), page(11, 10, 100)], totals, { maxAgeMs: 500 }, 1000)).toBe(0);
  });

  it('accepts non-negative integer limits and refuses anything else with ConfigError', () => {
    expect(() => checkRetention({ maxAgeMs: 0 })).not.toThrow();
    expect(() => checkRetention({ maxEvents: 10, maxBytes: 1e9 })).not.toThrow();
    for (const bad of [
      undefined,
      null,
      [],
      {},
      { maxEvents: -1 },
      { maxAgeMs: 0.5 },
      { maxBytes: Number.NaN },
      { maxEvents: '3' },
      { other: 1 },
    ]) {
      expect(() => checkRetention(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
  });
});

describe('horizon', () => {
  it('is the lowest of what the policy wants and every checkpoint, naming those that hold it back', () => {
    const limits = [
      { kind: 'projection' as const, name: 'revenue', position: 30 },
      { kind: 'reaction' as const, name: 'charge', position: 50 },
    ];
    expect(horizonOf(40, limits)).toEqual({ horizon: 30, blockers: [limits[0]] });
    expect(horizonOf(20, limits)).toEqual({ horizon: 20, blockers: [] });
    expect(horizonOf(40, [{ kind: 'job', name: 'j', position: 0 }]).horizon).toBe(0);
  });

  it('reads checkpoints as the last confirmed position done with', () => {
    expect(projectionThrough(null)).toBe(0);
    expect(projectionThrough({ area: 0, page: 11, index: 4 })).toBe(15);
    expect(jobThrough({ status: 'done', cursor: null })).toBe(Infinity);
    expect(jobThrough({ status: 'running', cursor: null })).toBe(0);
    // A job over one aggregate checkpoints a seq: it holds all history while it runs.
    expect(jobThrough({ status: 'running', cursor: { area: -1, page: -1, index: 500 } })).toBe(0);
    expect(jobThrough({ status: 'running', cursor: { area: 1, page: 3, index: 0 } })).toBe(Infinity);
  });
});

describe('reads over compacted history', () => {
  it('knows the first confirmed position a read wants, and whether it was dropped', () => {
    expect(firstWantedPosition(null)).toBe(1);
    expect(firstWantedPosition({ area: 0, page: 21, index: 3 })).toBe(25);
    expect(firstWantedPosition({ area: 1, page: 2, index: 0 })).toBe(Infinity);
    expect(firstWantedPosition(null, 40)).toBe(40);
    expect(startsBeforeHistory(1, 1)).toBe(false);
    expect(startsBeforeHistory(24, 25)).toBe(true);
    expect(startsBeforeHistory(25, 25)).toBe(false);
  });

  it('a scan under way fails when compaction dropped events past the last one it read, and only then', () => {
    // Read up to position 30 (page 21, index 9): the next event it wants is 31.
    const readUpTo = { area: 0, page: 21, index: 9 };
    expect(() => checkNotDroppedSince(readUpTo, 31)).not.toThrow();
    expect(() => checkNotDroppedSince(readUpTo, 12)).not.toThrow();
    expect(() => checkNotDroppedSince(null, 500)).not.toThrow(); // nothing read yet: the start is the caller's to judge
    expect(() => checkNotDroppedSince({ area: 1, page: 3, index: 0 }, 500)).not.toThrow(); // pending events are never dropped
    let failure: unknown;
    try {
      checkNotDroppedSince(readUpTo, 32);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(HistoryCompactedError);
    expect((failure as HistoryCompactedError).details).toMatchObject({ what: 'log', historyStartsAt: 32, requestedFrom: 31 });
  });

  it('HistoryCompactedError crosses the worker boundary with its facts', () => {
    const error = new HistoryCompactedError('stream', 701, { aggregateId: 'o1', fromSeq: 1, firstKeptSeq: 71 });
    const back = errorFromJSON(JSON.parse(JSON.stringify(error)));
    expect(back).toBeInstanceOf(HistoryCompactedError);
    expect(back).toMatchObject({ code: 'HISTORY_COMPACTED', what: 'stream', historyStartsAt: 701, message: error.message });
    expect(back.details).toEqual({ aggregateId: 'o1', fromSeq: 1, firstKeptSeq: 71, what: 'stream', historyStartsAt: 701 });
  });
});
