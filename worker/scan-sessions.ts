import { checkNotDroppedSince } from '../src/core/compaction.ts';
import { pageEndCursor, type LogCursor } from '../src/core/cursor.ts';
import type { LogPageQuery, LogPageResult, RawPage } from './types.ts';

/**
 * Log scans that the engine walks for the page, a few pages per call
 * (call-port.ts: scanOpen, scanNext, scanClose), instead of one read of
 * thousands of events per call.
 *
 * Why: V8 deserializes a message of more than 100 KB straight into the old
 * generation, and a read of a few thousand events is about a megabyte of page
 * JSON. A replay's page strings, garbage milliseconds later, then piled up
 * until a full GC, on both threads. A scan's call here answers at most
 * SCAN_PART_CHARS of pages (unless one page alone is larger): its strings
 * are young and die young. The engine keeps reading IndexedDB ahead in
 * bigger steps (SCAN_FILL_EVENTS), so the page's calls rarely wait for it.
 */

/** Characters of page JSON one scanNext answers at most (unless a single page is larger): under 100 KB even at two bytes each. */
export const SCAN_PART_CHARS = 45_000;
/** Events read from IndexedDB per step, ahead of the page's calls (fewer when the scan asks for fewer per read). */
export const SCAN_FILL_EVENTS = 4_000;
/**
 * The next IndexedDB read starts when fewer pages than this wait, so the
 * page's calls rarely wait for one. Measured on the bench's replay: 4 kept
 * the page's heap lowest but made replay ~15 % slower; 16 was as fast as
 * reading 4,000 events per call, with higher page peaks; 8 sits between.
 */
const REFILL_BELOW_PAGES = 8;
/** Scans open at once per port; the oldest is dropped past this (a page that never closes its scans cannot grow the engine's memory). */
export const MAX_OPEN_SCANS = 64;

/**
 * The name of the error a step of a scan the engine no longer holds fails with: dropped after MAX_OPEN_SCANS
 * newer ones (iterators an app left unfinished), or closed. The client opens it again where it stood.
 */
export const SCAN_GONE = 'ScanGoneError';

export interface ScanStep {
  pages: RawPage[];
  /** No page after these exists now. */
  end: boolean;
  historyStartsAt: number;
  droppedTimes?: [number, number];
}

interface Scan {
  query: LogPageQuery;
  /** Where the next IndexedDB read starts: after the last event of the pages read so far. */
  after: LogCursor | null;
  /** Pages read and not yet answered. */
  buffer: RawPage[];
  /** The last read said nothing follows. */
  sourceEnd: boolean;
  history: Pick<LogPageResult, 'historyStartsAt' | 'droppedTimes'>;
  /** The read in progress, if any. */
  filling: Promise<void> | undefined;
  /** A read failed: once the pages read before it are answered, every call fails with it. */
  failure: unknown;
  /** IndexedDB reads made so far. */
  reads: number;
}

export function createScanSessions(readLog: (query: LogPageQuery) => Promise<LogPageResult>) {
  const scans = new Map<number, Scan>();

  const fill = (scan: Scan): Promise<void> => {
    scan.filling ??= (async () => {
      try {
        const maxEvents = Math.min(scan.query.maxEvents ?? SCAN_FILL_EVENTS, SCAN_FILL_EVENTS);
        const result = await readLog({ ...scan.query, after: scan.after, maxEvents });
        // The first read's history is the page's to judge (it knows what the scan asked for); later ones must not skip.
        if (scan.reads++ > 0) checkNotDroppedSince(scan.after, result.historyStartsAt);
        scan.history = result.droppedTimes
          ? { historyStartsAt: result.historyStartsAt, droppedTimes: result.droppedTimes }
          : { historyStartsAt: result.historyStartsAt };
        for (const page of result.pages) scan.buffer.push(page);
        const last = result.pages[result.pages.length - 1];
        if (last) scan.after = pageEndCursor(last);
        scan.sourceEnd = result.end || !last;
      } catch (error) {
        scan.failure = error;
      } finally {
        scan.filling = undefined;
      }
    })();
    return scan.filling;
  };

  return {
    /** Starts a scan under the page's id (reads nothing yet). */
    open(id: number, query: LogPageQuery): void {
      if (scans.size >= MAX_OPEN_SCANS) scans.delete(scans.keys().next().value!);
      scans.set(id, {
        query,
        after: query.after ?? null,
        buffer: [],
        sourceEnd: false,
        history: { historyStartsAt: 0 },
        filling: undefined,
        failure: undefined,
        reads: 0,
      });
    },

    /** The scan's next pages (up to SCAN_PART_CHARS); reads ahead for the call after. */
    async next(id: number): Promise<ScanStep> {
      const scan = scans.get(id);
      if (!scan) {
        const gone = new Error(`log scan ${id} is not open (closed, or dropped after ${MAX_OPEN_SCANS} newer ones)`);
        gone.name = SCAN_GONE;
        throw gone;
      }
      while (scan.buffer.length === 0 && !scan.sourceEnd && scan.failure === undefined) await fill(scan);
      // Pages read before a read failed are still answered: the failure comes where they end.
      if (scan.buffer.length === 0 && scan.failure !== undefined) throw scan.failure;
      const pages: RawPage[] = [];
      let chars = 0;
      while (scan.buffer.length > 0 && (pages.length === 0 || chars + scan.buffer[0]!.json.length <= SCAN_PART_CHARS)) {
        const page = scan.buffer.shift()!;
        chars += page.json.length;
        pages.push(page);
      }
      const end = scan.buffer.length === 0 && scan.sourceEnd;
      // Read ahead while the page handles these: the next calls find their pages waiting.
      if (!scan.sourceEnd && scan.failure === undefined && scan.buffer.length < REFILL_BELOW_PAGES) void fill(scan);
      if (end) scans.delete(id);
      return { pages, end, ...scan.history };
    },

    close(id: number): void {
      scans.delete(id);
    },

    /** Scans open now. */
    size: (): number => scans.size,
  };
}
