// A commit over many aggregates leaves its stream entries for later
// (worker/page-builder.ts, worker/later-index.ts): the rules that decide it,
// the record it writes, and how readers answer from waiting entries as the
// stream index would.
import { describe, expect, it } from 'vitest';
import {
  buildCommit,
  defersStream,
  indexedFromLater,
  LATER_MAX_ENTRIES,
  LATER_MIN_ENTRIES,
  type LaterEntry,
  type PageEntry,
} from '../../worker/page-builder.ts';
import { buildLaterIndex, laterHead, laterPages } from '../../worker/later-index.ts';
import { PENDING } from '../../worker/types.ts';

/** `perAggregate` events for each of `aggregates` aggregates, interleaved, ~300 bytes each (several pages). */
function entries(aggregates: number, perAggregate: number): PageEntry[] {
  const out: PageEntry[] = [];
  for (let seq = 1; seq <= perAggregate; seq++) {
    for (let a = 0; a < aggregates; a++) {
      const id = `e-${a}-${seq}`;
      out.push({
        json: `["${id}","agg-${a}","Order",${seq},"${'x'.repeat(280)}"]`,
        id,
        aggregateId: `agg-${a}`,
        seq,
        occurredAt: seq,
        indexId: true,
      });
    }
  }
  return out;
}

describe('which commits leave their stream entries for later', () => {
  it('defers from LATER_MIN_ENTRIES aggregates on, while what waits stays within LATER_MAX_ENTRIES', () => {
    expect(defersStream(LATER_MIN_ENTRIES - 1, 0)).toBe(false);
    expect(defersStream(LATER_MIN_ENTRIES, 0)).toBe(true);
    expect(defersStream(LATER_MIN_ENTRIES, LATER_MAX_ENTRIES - LATER_MIN_ENTRIES)).toBe(true);
    expect(defersStream(LATER_MIN_ENTRIES, LATER_MAX_ENTRIES - LATER_MIN_ENTRIES + 1)).toBe(false);
  });

  it('given no waiting count (ingest, import), indexes at once whatever the size', () => {
    const built = buildCommit(entries(100, 10), 7);
    expect(built.later).toBe(0);
    expect(built.index?.later).toBeUndefined();
    expect(built.index?.stream).toHaveLength(100);
  });
});

describe('a commit whose stream entries wait', () => {
  it('indexes its ids at once and, once indexed, holds exactly what an indexed commit holds', () => {
    const list = entries(100, 10);
    const indexed = buildCommit(list, 7);
    const waiting = buildCommit(list, 7, 0);
    expect(waiting.pages).toEqual(indexed.pages);
    expect(waiting.later).toBe(100);
    expect(waiting.index?.stream).toEqual([]);
    expect(waiting.index?.id).toEqual(indexed.index?.id);
    expect(waiting.index?.last).toBe(7 + waiting.pages.length - 1);
    expect(indexedFromLater(waiting.index!)).toEqual(indexed.index);
  });

  it('gets an index record even when it fits one page, and leaves the page without entries', () => {
    const small = entries(LATER_MIN_ENTRIES, 1).map((e) => ({ ...e, json: `["${e.id}"]` }));
    const built = buildCommit(small, 3, 0);
    expect(built.pages).toHaveLength(1);
    expect(built.pages[0]!.stream).toBeUndefined();
    expect(built.pages[0]!.id).toBeUndefined();
    expect(built.index).toMatchObject({ stream: [], last: 3 });
    expect(indexedFromLater(built.index!).stream).toHaveLength(LATER_MIN_ENTRIES);
  });
});

describe('answering from waiting entries', () => {
  // Two waiting commits: lsns 10-13 (agg-a seqs up to 5 on pages 10-12) and 20-21 (agg-a up to 9 on 21).
  const index = buildLaterIndex([
    [
      [PENDING, 10],
      [
        ['agg-a', 5, 10, 12],
        ['agg-b', 2, 13, 13],
      ] satisfies LaterEntry[],
    ],
    [[PENDING, 20], [['agg-a', 9, 21, 21]] satisfies LaterEntry[]],
  ]);

  it('gives the highest seq of an aggregate, 0 for one it does not hold', () => {
    expect(laterHead(index, 'agg-a')).toBe(9);
    expect(laterHead(index, 'agg-b')).toBe(2);
    expect(laterHead(index, 'agg-z')).toBe(0);
  });

  it('gives the pages of the entries in range plus the first past it, as the stream index would', () => {
    expect(laterPages(index, 'agg-a', 1, Infinity)).toEqual([10, 11, 12, 21]);
    expect(laterPages(index, 'agg-a', 6, 9)).toEqual([21]);
    // seqs 1-3 lie within the first commit, whose entry says 5: it is the first past 3.
    expect(laterPages(index, 'agg-a', 1, 3)).toEqual([10, 11, 12]);
    expect(laterPages(index, 'agg-a', 10, Infinity)).toEqual([]);
    expect(laterPages(index, 'agg-z', 1, Infinity)).toEqual([]);
  });
});
