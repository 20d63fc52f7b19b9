import { checkNotDroppedSince, firstWantedPosition, startsBeforeHistory } from '../core/compaction.ts';
import { HistoryCompactedError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import { pageEndCursor, slotOf, type LogCursor } from '../core/cursor.ts';
import { CONFIRMED, PENDING, SCAN_GONE, type LogPageQuery, type LogPageResult, type RawPage } from '../../worker/contract.ts';
import type { EngineConnection } from './connection.ts';
import { isAfter, parsePage, placeEvent, type PlacedEvent, type UpcastFailures } from './log-events.ts';
import type { LogFilter } from './types.ts';

/** Events per yielded batch unless asked otherwise (a batch is cut after a whole page). */
export const SCAN_BATCH_EVENTS = 12000;

/**
 * Events asked of an in-process engine per call. What a scan holds at once
 * is about two of these (the result being decoded and the next one, asked
 * for ahead), however big the batches it yields: ~4,000 events of ~300
 * bytes are ~1.2 MB of page JSON, and one engine call's worth decoded on
 * the app's thread is a task of ~10 ms. An engine in a worker is walked a
 * few pages per call instead (worker/scan-sessions.ts).
 */
export const SCAN_READ_EVENTS = 4000;

export interface ScanBatch {
  /** Events of this batch that match the filter, in log order. */
  matches: PlacedEvent[];
  /** Events looked at in this batch, matching or not. */
  scanned: number;
  /** Per match: how many events of this batch were looked at up to and including it (for exact checkpoints). */
  offsets: number[];
  /** The last event looked at: resume after it. */
  last: LogCursor;
}

/**
 * What a scan does when it would start before the start of local history
 * (compaction dropped the confirmed events before `historyStartsAt`):
 * - 'exact': throw HistoryCompactedError (a state folded from it would differ);
 * - 'kept': start at the start of local history;
 * - 'explicit' (the default): throw only when the filter asked for a place
 *   before it (`fromPosition`, a confirmed `after`); "the whole log" is what is kept.
 */
export type HistoryMode = 'exact' | 'kept' | 'explicit';

function checkHistory(
  filter: LogFilter,
  after: LogCursor | null,
  mode: HistoryMode,
  historyStartsAt: number,
  droppedTimes?: [number, number],
): void {
  if (mode === 'kept' || historyStartsAt <= 1) return;
  if (filter.status === 'pending') return;
  // A time range (either bound given) that overlaps the dropped events' times would miss some of them.
  const timed = filter.fromTime !== undefined || filter.toTime !== undefined;
  if (
    droppedTimes &&
    timed &&
    (filter.fromTime === undefined || droppedTimes[1] >= filter.fromTime) &&
    (filter.toTime === undefined || droppedTimes[0] <= filter.toTime)
  ) {
    const asked = filter.fromTime !== undefined ? { requestedFromTime: filter.fromTime } : { requestedToTime: filter.toTime! };
    throw new HistoryCompactedError('log', historyStartsAt, { ...asked, droppedUntilTime: droppedTimes[1] });
  }
  // A range that ends before local history starts asks only for dropped events: an empty answer would be a different one.
  if (filter.toPosition !== undefined && filter.toPosition < historyStartsAt) {
    throw new HistoryCompactedError('log', historyStartsAt, { requestedTo: filter.toPosition });
  }
  const explicitlyBefore = filter.fromPosition !== undefined || (after !== null && after.area === 0);
  if (mode === 'explicit' && !explicitlyBefore) return;
  const first = firstWantedPosition(after, filter.fromPosition);
  if (!startsBeforeHistory(first, historyStartsAt)) return;
  throw new HistoryCompactedError('log', historyStartsAt, { requestedFrom: first });
}

/** The filter as a test of a stored event: judged before decoding, so an event nobody asked for is never upcast. */
function matcher(filter: LogFilter): (event: StoredEvent) => boolean {
  const aggregates = filter.aggregateIds ? new Set(filter.aggregateIds) : undefined;
  const types = filter.types ? new Set(filter.types) : undefined;
  const positional = filter.fromPosition !== undefined || filter.toPosition !== undefined;
  return (event) => {
    if (aggregates && !aggregates.has(event.aggregateId)) return false;
    if (types && !types.has(event.type)) return false;
    const t = event.meta.occurredAt;
    if (filter.fromTime !== undefined && t < filter.fromTime) return false;
    if (filter.toTime !== undefined && t > filter.toTime) return false;
    if (positional) {
      if (event.position === undefined) return false;
      if (filter.fromPosition !== undefined && event.position < filter.fromPosition) return false;
      if (filter.toPosition !== undefined && event.position > filter.toPosition) return false;
    }
    return true;
  };
}

/**
 * Walks the log in log order (confirmed by position, then pending in local
 * order) in bounded batches. Time and position bounds also skip whole pages
 * in the engine; the other filters apply here.
 *
 * Pages are decoded one at a time, as the consumer asks for more: a batch
 * holds the events of the pages it covers and nothing else, so a consumer
 * that takes small batches (`batchEvents: 1` yields page by page) keeps
 * little decoded at once. The engine is read ahead by one call, so
 * IndexedDB reads while the app handles a batch (openSource).
 */
export async function* scanLog(
  connection: EngineConnection,
  registry: Registry,
  filter: LogFilter = {},
  options: {
    keepStored?: boolean;
    batchEvents?: number | undefined;
    readEvents?: number;
    history?: HistoryMode;
    upcastFailures?: UpcastFailures;
  } = {},
): AsyncGenerator<ScanBatch> {
  const keepStored = options.keepStored ?? false;
  const batchEvents = Math.max(1, Math.floor(options.batchEvents ?? SCAN_BATCH_EVENTS));
  const readEvents = Math.max(1, Math.floor(options.readEvents ?? SCAN_READ_EVENTS));
  const matches = matcher(filter);
  let after = filter.after ?? null;
  if (filter.status === 'pending' && (!after || after.area < PENDING)) {
    // Pending pages are keyed [1, lsn >= 1]: start just before the first.
    after = { area: PENDING, page: 0, index: 0 };
  }
  const confirmedOnly = filter.status === 'confirmed' || filter.fromPosition !== undefined || filter.toPosition !== undefined;
  const source = openSource(connection, {
    after,
    fromPosition: filter.fromPosition,
    fromTime: filter.fromTime,
    toTime: filter.toTime,
    maxEvents: readEvents,
    // The engine stops at the pending pages too, instead of reading (and reading ahead) pages this scan drops.
    ...(confirmedOnly ? { confirmedOnly: true } : {}),
  });
  try {
    yield* walk();
  } finally {
    source.close();
  }

  async function* walk(): AsyncGenerator<ScanBatch> {
    let next = source.next(after);
    let batch: PlacedEvent[] = [];
    let offsets: number[] = [];
    let scanned = 0;
    let last = after;
    let historyStartsAt = 1;
    const take = (): ScanBatch => {
      const out = { matches: batch, scanned, offsets, last: last! };
      batch = [];
      offsets = [];
      scanned = 0;
      return out;
    };
    let first = true;
    for (;;) {
      let result = await next;
      historyStartsAt = result.historyStartsAt;
      if (first) {
        first = false;
        checkHistory(filter, after, options.history ?? 'explicit', historyStartsAt, result.droppedTimes);
      } else if (!source.checksDrops) {
        checkNotDroppedSince(after, historyStartsAt);
      }
      // Ask for the following pages now, so IndexedDB reads while these are decoded and handled.
      const lastPage = result.pages[result.pages.length - 1];
      const following: LogCursor | null = lastPage ? pageEndCursor(lastPage) : null;
      const more = !result.end && following !== null;
      if (more) {
        next = source.next(following);
        next.catch(() => undefined); // a consumer that stops early leaves it unawaited
      }
      const pages = result.pages;
      result = undefined as unknown as typeof result;
      let pastEnd = false;
      for (let p = 0; p < pages.length; p++) {
        const page = pages[p]!;
        if (confirmedOnly && page.area !== CONFIRMED) {
          pastEnd = true; // pending events have no position
          break;
        }
        const stored = parsePage(page);
        for (let index = 0; index < stored.length; index++) {
          const cursor = { area: page.area, page: page.page, index: slotOf(page, index) };
          if (!isAfter(cursor, after)) continue;
          const event = stored[index]!;
          scanned++;
          last = cursor;
          if (filter.toPosition !== undefined && (event.position ?? Infinity) > filter.toPosition) {
            pastEnd = true;
            break;
          }
          if (matches(event)) {
            batch.push(placeEvent(registry, event, cursor, keepStored, options.upcastFailures));
            offsets.push(scanned);
          }
        }
        // The page is decoded: let go of its JSON before the next one.
        pages[p] = undefined as unknown as RawPage;
        if (pastEnd) break;
        if (scanned >= batchEvents) yield take();
      }
      if (pastEnd || !more) {
        if (last && (scanned > 0 || batch.length > 0)) yield take();
        return;
      }
      // Resume after everything the engine returned (even events before the cursor were looked at).
      after = following;
    }
  }
}

/** Where a scan's pages come from, step by step in log order. */
interface LogSource {
  /** The pages after `after` (the end of the last step; a worker's engine keeps track of it itself). */
  next(after: LogCursor | null): Promise<LogPageResult>;
  close(): void;
  /** The source itself refuses to skip events compaction dropped between its reads. */
  readonly checksDrops: boolean;
}

/**
 * With the engine in a worker: a scan the engine walks a few pages per call
 * (worker/scan-sessions.ts), whose messages stay small enough for V8 to keep
 * their strings young. In-process: a readLog call of `query.maxEvents` per step.
 */
function openSource(connection: EngineConnection, query: LogPageQuery): LogSource {
  const { openScan } = connection;
  if (openScan) {
    let scan = openScan(query);
    // One step more in flight than the caller asks for, so a step's round trip overlaps the handling of the last one.
    // Past the end it is refused (the engine let go of the scan): no one waits for it.
    let ahead: Promise<LogPageResult> | undefined;
    const stepAhead = () => {
      ahead = scan.next();
      ahead.catch(() => undefined);
    };
    return {
      next(after) {
        const step = ahead ?? scan.next();
        stepAhead();
        return step.catch((error: unknown) => {
          if ((error as { name?: unknown } | null)?.name !== SCAN_GONE) throw error;
          // The engine dropped this scan to make room for newer ones (iterators an app left unfinished hold
          // theirs open): a new one goes on from where this step began, and the caller sees nothing of it.
          scan.close();
          scan = openScan({ ...query, after });
          const again = scan.next();
          stepAhead();
          return again;
        });
      },
      close: () => scan.close(),
      checksDrops: true,
    };
  }
  return {
    next: (after) => connection.engine.readLog({ ...query, after }),
    close: () => undefined,
    checksDrops: false,
  };
}
