import { describe, expect, it } from 'vitest';
import { HistoryCompactedError } from '../../src/core/errors.ts';
import { createScanSessions, MAX_OPEN_SCANS, SCAN_FILL_EVENTS, SCAN_PART_CHARS } from '../../worker/scan-sessions.ts';
import { CONFIRMED, type LogPageQuery, type LogPageResult, type RawPage } from '../../worker/types.ts';

/** A confirmed log of `count` pages of `events` events each, `chars` characters of JSON per page. */
function fakeLog(count: number, events: number, chars: number) {
  const pages: RawPage[] = Array.from({ length: count }, (_, i) => ({
    area: CONFIRMED,
    page: 1 + i * events,
    count: events,
    json: `[${'x'.repeat(chars - 2)}]`,
  }));
  const queries: LogPageQuery[] = [];
  let historyStartsAt = 1;
  /** readLog as the engine answers it: whole pages from the cursor's page on, about maxEvents of them. */
  const readLog = async (query: LogPageQuery): Promise<LogPageResult> => {
    queries.push(query);
    const after = query.after;
    let start = after ? pages.findIndex((p) => p.page === after.page) : 0;
    if (after && start >= 0 && after.index >= pages[start]!.count - 1) start++;
    start = Math.max(
      start,
      pages.findIndex((p) => p.page + p.count - 1 >= historyStartsAt),
    );
    const out: RawPage[] = [];
    let taken = 0;
    for (let i = start; i < pages.length && taken < (query.maxEvents ?? Infinity); i++) {
      out.push(pages[i]!);
      taken += pages[i]!.count;
    }
    return { pages: out, end: start + out.length >= pages.length, historyStartsAt };
  };
  return {
    pages,
    queries,
    readLog,
    compactTo: (position: number) => {
      historyStartsAt = position;
    },
  };
}

async function drain(scans: ReturnType<typeof createScanSessions>, id: number) {
  const steps = [];
  for (;;) {
    const step = await scans.next(id);
    steps.push(step);
    if (step.end) return steps;
  }
}

describe('log scan sessions (the engine walks a scan a few pages per call)', () => {
  it('answers every page once, in order, at most SCAN_PART_CHARS of JSON per call (a larger page alone), and lets go at the end', async () => {
    const log = fakeLog(30, 100, 20_000);
    const scans = createScanSessions(log.readLog);
    scans.open(1, { after: null });
    const steps = await drain(scans, 1);

    expect(steps.flatMap((s) => s.pages)).toEqual(log.pages);
    for (const step of steps) expect(step.pages.reduce((n, p) => n + p.json.length, 0)).toBeLessThanOrEqual(SCAN_PART_CHARS);
    expect(steps.filter((s) => s.end)).toHaveLength(1);
    expect(scans.size()).toBe(0);
    await expect(scans.next(1)).rejects.toThrow(/log scan 1 is not open/);

    const big = fakeLog(3, 200, 70_000);
    const bigScans = createScanSessions(big.readLog);
    bigScans.open(2, {});
    expect((await drain(bigScans, 2)).map((s) => s.pages.length)).toEqual([1, 1, 1]);
  });

  it('reads IndexedDB ahead in SCAN_FILL_EVENTS steps, each after the last page read, with the scan filters', async () => {
    const log = fakeLog(50, 100, 20_000);
    const scans = createScanSessions(log.readLog);
    scans.open(7, { after: { area: CONFIRMED, page: 201, index: 40 }, fromTime: 5, toTime: 9 });
    const steps = await drain(scans, 7);

    expect(steps[0]!.pages[0]!.page).toBe(201); // the cursor's page: the page skips the events up to the cursor
    const pagesPerFill = SCAN_FILL_EVENTS / 100;
    expect(log.queries.length).toBe(Math.ceil((50 - 2) / pagesPerFill));
    expect(log.queries.every((q) => q.maxEvents === SCAN_FILL_EVENTS && q.fromTime === 5 && q.toTime === 9)).toBe(true);
    expect(log.queries[1]!.after).toEqual({ area: CONFIRMED, page: 1 + (2 + pagesPerFill - 1) * 100, index: 99 });

    const small = fakeLog(10, 100, 20_000);
    const smallScans = createScanSessions(small.readLog);
    smallScans.open(8, { maxEvents: 300 });
    expect((await drain(smallScans, 8)).flatMap((s) => s.pages)).toEqual(small.pages);
    expect(small.queries.every((q) => q.maxEvents === 300)).toBe(true);
  });

  it('fails when compaction dropped events past the ones it read between two reads; a first read is the caller to judge', async () => {
    const log = fakeLog(2 + (2 * SCAN_FILL_EVENTS) / 100, 100, 20_000);
    log.compactTo(101); // before the scan: its first step says so, and the caller decides
    const scans = createScanSessions(log.readLog);
    scans.open(1, {});
    const first = await scans.next(1);
    expect(first.historyStartsAt).toBe(101);
    expect(first.pages[0]!.page).toBe(101);

    // Its first read held SCAN_FILL_EVENTS events (positions 101..); compaction then drops past them.
    const firstReadEnd = 100 + SCAN_FILL_EVENTS;
    log.compactTo(firstReadEnd + 1001);
    const seen: number[] = [];
    const failure = await (async () => {
      try {
        for (;;) {
          const step = await scans.next(1);
          seen.push(...step.pages.map((p) => p.page));
          if (step.end) return undefined;
        }
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(HistoryCompactedError);
    expect((failure as HistoryCompactedError).details).toMatchObject({
      historyStartsAt: firstReadEnd + 1001,
      requestedFrom: firstReadEnd + 1,
    });
    expect(Math.max(...seen)).toBe(firstReadEnd - 99); // everything read before the drop was answered (pages of 100), nothing after it
  });

  it('a failed read fails that call and every later one; closed and evicted scans are refused by name', async () => {
    const scans = createScanSessions(async () => {
      throw new Error('the database connection closed');
    });
    scans.open(1, {});
    await expect(scans.next(1)).rejects.toThrow('the database connection closed');
    await expect(scans.next(1)).rejects.toThrow('the database connection closed');

    const log = fakeLog(5, 100, 1_000);
    const many = createScanSessions(log.readLog);
    for (let id = 1; id <= MAX_OPEN_SCANS + 1; id++) many.open(id, {});
    expect(many.size()).toBe(MAX_OPEN_SCANS);
    await expect(many.next(1)).rejects.toThrow(`log scan 1 is not open (closed, or dropped after ${MAX_OPEN_SCANS} newer ones)`);
    many.close(2);
    await expect(many.next(2)).rejects.toThrow(/not open/);
    expect((await drain(many, 3)).flatMap((s) => s.pages)).toEqual(log.pages);
  });
});
