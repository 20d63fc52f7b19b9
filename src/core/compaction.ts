import { confirmedPositionOf, type LogCursor } from './cursor.ts';
import { ConfigError, HistoryCompactedError } from './errors.ts';

/**
 * The rules of compaction and retention, with no I/O: which confirmed pages
 * a retention policy wants gone, how far the checkpoints of projections,
 * replay jobs and reactions let compaction go, and whether a read starts
 * before the start of local history. The engine (worker/compaction.ts) reads
 * and deletes; the client (src/client/compaction.ts) writes the aggregates'
 * base snapshots; both decide with these functions.
 */

/** How much confirmed history a device keeps (openStore's `retention`). Any limit reached makes pages go. */
export interface RetentionOptions {
  /** Drop confirmed pages whose newest event occurred more than this long ago. */
  maxAgeMs?: number;
  /** Keep at most about this many confirmed events (whole pages go, oldest first). */
  maxEvents?: number;
  /** Keep at most about this many bytes of confirmed events (estimated from the pages' JSON). */
  maxBytes?: number;
}

const RETENTION_KEYS = ['maxAgeMs', 'maxEvents', 'maxBytes'] as const;

/** Throws ConfigError unless `retention` is an object of non-negative integer limits, at least one of them set. */
export function checkRetention(retention: unknown, what = 'retention'): asserts retention is RetentionOptions {
  if (typeof retention !== 'object' || retention === null || Array.isArray(retention)) {
    throw new ConfigError(`${what} must be an object: { maxAgeMs?, maxEvents?, maxBytes? }`);
  }
  const given = retention as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(RETENTION_KEYS as readonly string[]).includes(key)) throw new ConfigError(`${what}.${key} is not a retention option`, { key });
  }
  let any = false;
  for (const key of RETENTION_KEYS) {
    const value = given[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError(`${what}.${key} must be a non-negative integer`, { [key]: value });
    }
    any = true;
  }
  if (!any) throw new ConfigError(`${what} needs at least one of maxAgeMs, maxEvents, maxBytes`);
}

/** A confirmed page as compaction sees it. */
export interface PageFacts {
  /** Its first position (the page key). */
  first: number;
  count: number;
  /** The newest meta.occurredAt in it. */
  t1: number;
  /** Its JSON's length: the bytes estimate. */
  bytes: number;
}

/** What the whole store holds now, for the count and byte limits. */
export interface StoredTotals {
  confirmedEvents: number;
  /** Estimated bytes of all confirmed events stored. */
  confirmedBytes: number;
}

/**
 * How many of `pages` (the oldest confirmed pages, in order) the policy wants
 * gone: a page goes while it is older than maxAgeMs, or while more than
 * maxEvents / maxBytes would otherwise remain. Stops at the first page no
 * limit wants gone, so what remains is always a suffix of the log.
 */
export function pagesOverPolicy(pages: readonly PageFacts[], totals: StoredTotals, policy: RetentionOptions, now: number): number {
  let events = totals.confirmedEvents;
  let bytes = totals.confirmedBytes;
  let n = 0;
  for (const page of pages) {
    const old = policy.maxAgeMs !== undefined && page.t1 < now - policy.maxAgeMs;
    const many = policy.maxEvents !== undefined && events > policy.maxEvents;
    const big = policy.maxBytes !== undefined && bytes > policy.maxBytes;
    if (!old && !many && !big) break;
    events -= page.count;
    bytes -= page.bytes;
    n++;
  }
  return n;
}

/** Something whose checkpoint stops compaction: it has not read past `position` yet. */
export interface Blocker {
  kind: 'projection' | 'job' | 'reaction' | 'aggregate' | 'unindexed';
  name: string;
  /** The last confirmed position it is done with (everything after it must stay). */
  position: number;
}

/** The last confirmed position a projection's stored cursor covers (its cursor holds confirmed events only). */
export function projectionThrough(cursor: LogCursor | null): number {
  if (!cursor) return 0;
  return cursor.area === 0 ? confirmedPositionOf(cursor) : Number.POSITIVE_INFINITY;
}

/**
 * The last confirmed position a replay job no longer needs. A finished job
 * needs nothing; a job over one aggregate checkpoints a seq (area -1), not a
 * position, so while it runs it holds all history; a job past the confirmed
 * area never reads confirmed pages again.
 */
export function jobThrough(job: { status: 'running' | 'done'; cursor: LogCursor | null }): number {
  if (job.status === 'done') return Number.POSITIVE_INFINITY;
  if (!job.cursor || job.cursor.area < 0) return 0;
  return projectionThrough(job.cursor);
}

/**
 * The horizon: the highest confirmed position that may go. Never past the
 * confirmed head, the indexed pages, or any checkpoint; `blockers` are the
 * checkpoints that hold it below `wanted`.
 */
export function horizonOf(wanted: number, limits: readonly Blocker[]): { horizon: number; blockers: Blocker[] } {
  let horizon = wanted;
  const blockers: Blocker[] = [];
  for (const limit of limits) {
    if (limit.position < wanted) blockers.push(limit);
    horizon = Math.min(horizon, limit.position);
  }
  return { horizon: Math.max(0, horizon), blockers };
}

/**
 * The first confirmed position a log read wants: after `after` (null: from the
 * start), and at or past `fromPosition`. Infinity when it starts in the
 * pending area (no confirmed event is wanted).
 */
export function firstWantedPosition(after: LogCursor | null | undefined, fromPosition?: number): number {
  let first = 1;
  if (after) first = after.area === 0 ? confirmedPositionOf(after) + 1 : after.area > 0 ? Number.POSITIVE_INFINITY : 1;
  if (fromPosition !== undefined) first = Math.max(first, fromPosition);
  return first;
}

/** Whether a read wanting confirmed events from `first` on misses some: they lie before the start of local history. */
export function startsBeforeHistory(first: number, historyStartsAt: number): boolean {
  return first < historyStartsAt;
}

/**
 * A scan that already began must not skip: when compaction dropped confirmed
 * events after the last one it read (`readUpTo`), between two of its reads,
 * its next read would silently start later. Throws HistoryCompactedError then.
 */
export function checkNotDroppedSince(readUpTo: LogCursor | null, historyStartsAt: number): void {
  if (!readUpTo || readUpTo.area !== 0) return;
  const nextPosition = confirmedPositionOf(readUpTo) + 1;
  if (historyStartsAt > nextPosition) throw new HistoryCompactedError('log', historyStartsAt, { requestedFrom: nextPosition });
}
