import { aggregateRuntime, type AnyAggregateDefinition } from '../core/aggregate.ts';
import { checkRetention, type Blocker, type RetentionOptions } from '../core/compaction.ts';
import { AbortedError, ConfigError } from '../core/errors.ts';
import { findJsonProblem } from '../core/json-data.ts';
import type { CompactionAggregate, CompactionPlan, SnapshotRecord } from '../../worker/contract.ts';
import { readStream, snapshotFits, snapshotState } from './aggregate-loader.ts';
import { decodeEvent, parsePage } from './log-events.ts';
import type { LogEvent } from '../core/event.ts';
import type { StoreContext } from './context.ts';

/**
 * The client half of compaction (the engine half is worker/compaction.ts):
 * the reducers live here, so this side folds each aggregate a batch of pages
 * touches up to the last seq the batch holds (its base) and hands the bases
 * to the engine, which drops the pages in one transaction. A batch is a few
 * pages; between batches the loop yields, so appends and reads interleave.
 */

export interface CompactOptions {
  /** The policy for this run; default: openStore's `retention`. */
  retention?: RetentionOptions;
  /** Pages dropped per transaction (1-32, default 8): the drop checks them inside one readwrite transaction, which holds appends up meanwhile. */
  pagesPerStep?: number;
  /** Stop after this many transactions (default: until nothing more may go). */
  maxSteps?: number;
  signal?: AbortSignal;
  /** Measure navigator.storage.estimate() before and after (default: where it exists). */
  measure?: boolean;
}

export interface CompactionReport {
  pagesDropped: number;
  eventsDropped: number;
  /** Estimated bytes of event JSON dropped. */
  bytesDropped: number;
  /** Base snapshots written for aggregates whose first events were dropped. */
  basesWritten: number;
  /** Transactions that dropped pages. */
  steps: number;
  /** The first confirmed position still stored afterwards (store.info().historyStartsAt). */
  historyStartsAt: number;
  /** What held compaction back from what the policy wants: checkpoints not past it, aggregates with no usable reducer. */
  blockedBy: Blocker[];
  /** navigator.storage.estimate().usage before and after, in bytes, where the platform has it. */
  storage?: { usageBefore: number; usageAfter: number };
}

export const DEFAULT_PAGES_PER_STEP = 8;
/** The most pages one drop transaction may take (~2 MB of page JSON checked while appends wait). */
export const MAX_PAGES_PER_STEP = 32;

export function checkCompactOptions(options: CompactOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('compact options must be an object');
  if (options.retention !== undefined) checkRetention(options.retention, 'compact retention');
  const { pagesPerStep, maxSteps } = options;
  if (pagesPerStep !== undefined && !(Number.isInteger(pagesPerStep) && pagesPerStep >= 1 && pagesPerStep <= MAX_PAGES_PER_STEP)) {
    throw new ConfigError(`compact pagesPerStep must be an integer from 1 to ${MAX_PAGES_PER_STEP}`, { pagesPerStep });
  }
  if (maxSteps !== undefined && !(Number.isInteger(maxSteps) && maxSteps >= 1))
    throw new ConfigError('compact maxSteps must be a positive integer', { maxSteps });
}

async function usage(): Promise<number | undefined> {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ usage?: number }> } } }).navigator?.storage;
  if (!storage?.estimate) return undefined;
  return (await storage.estimate()).usage;
}

const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export function createCompactor(ctx: StoreContext, aggregates: readonly AnyAggregateDefinition[], retention: RetentionOptions | undefined) {
  const { connection, registry } = ctx;
  const byType = new Map(aggregates.map((a) => [a.type, aggregateRuntime(a)]));

  /**
   * The state of an aggregate at exactly `seq`: its stored base plus the
   * events after it, folded. They are all in the batch's pages (`inBatch`,
   * in seq order); should any be missing, they are read from the stream.
   */
  const baseAt = async (entry: CompactionAggregate, seq: number, inBatch: readonly LogEvent[]): Promise<SnapshotRecord> => {
    const aggregate = byType.get(entry.aggregateType)!;
    let state = entry.base ? snapshotState(entry.base) : aggregate.initialState();
    const from = (entry.base?.seq ?? 0) + 1;
    const wanted = inBatch.filter((e) => e.seq >= from && e.seq <= seq);
    const whole = wanted.length === seq - from + 1 && wanted.every((e, i) => e.seq === from + i);
    const events: AsyncIterable<LogEvent> | Iterable<LogEvent> = whole
      ? wanted
      : readStream(connection, registry, entry.aggregateId, { fromSeq: from, toSeq: seq });
    for await (const event of events) {
      const reducer = event.known ? aggregate.reducers[event.type] : undefined;
      if (reducer) state = reducer(state, event);
    }
    return {
      aggregateId: entry.aggregateId,
      aggregateType: aggregate.type,
      reducerVersion: aggregate.version,
      seq,
      ...(findJsonProblem(state) === undefined ? { stateJson: JSON.stringify(state) } : { state: state as unknown }),
      takenAt: Date.now(),
    };
  };

  /**
   * How many of the plan's pages can go: up to the first page touching an
   * aggregate this store cannot fold, or holding an event of a known
   * aggregate whose type, or whose version of its type, this app version does
   * not know (a newer app's): a
   * base folded without it would leave it out for good, while a load that
   * reads it later (once the app knows the type) would not.
   */
  const usablePages = (plan: CompactionPlan, decoded: readonly LogEvent[][], blocked: Blocker[]): number => {
    let cut = plan.pages.length;
    for (let p = 0; p < cut; p++) {
      const unknown = decoded[p]!.find((event) => !event.known && byType.has(event.aggregateType));
      if (!unknown) continue;
      cut = p;
      blocked.push({
        kind: 'aggregate',
        name: `${unknown.aggregateType} ${unknown.aggregateId}: event ${unknown.type} v${unknown.storedVersion} unreadable by this app (an unknown type, a newer version, or an upcast that fails)`,
        position: plan.pages[p]!.first,
      });
    }
    for (const entry of plan.aggregates) {
      const aggregate = byType.get(entry.aggregateType);
      if (aggregate && (!entry.base || snapshotFits(entry.base, aggregate))) continue;
      const first = entry.seqs.findIndex((seq) => seq > 0);
      if (first >= 0 && first < cut) cut = first;
      blocked.push({ kind: 'aggregate', name: `${entry.aggregateType} ${entry.aggregateId}`, position: plan.pages[first]?.first ?? 0 });
    }
    return cut;
  };

  /**
   * The plan's pages' events, decoded once, page by page. An event whose
   * upcast fails counts as unreadable: compaction stops before its page, as
   * for a newer version, and folds nothing without it.
   */
  const decodeAll = (plan: CompactionPlan): LogEvent[][] =>
    plan.raw.map((page) => parsePage(page).map((stored) => decodeEvent(registry, stored, false, 'unreadable')));

  /** The first `cut` pages' events per aggregate, in seq order. */
  const eventsByAggregate = (decoded: readonly LogEvent[][], cut: number): Map<string, LogEvent[]> => {
    const out = new Map<string, LogEvent[]>();
    for (const events of decoded.slice(0, cut)) {
      for (const event of events) {
        const list = out.get(event.aggregateId);
        if (list) list.push(event);
        else out.set(event.aggregateId, [event]);
      }
    }
    for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
    return out;
  };

  async function compact(options: CompactOptions = {}): Promise<CompactionReport> {
    checkCompactOptions(options);
    // Copied as checked: the caller's object may change while this runs.
    const policy = options.retention ? { ...options.retention } : retention;
    if (!policy) throw new ConfigError('compact needs a retention policy: openStore({ retention }) or compact({ retention })');
    const perStep = options.pagesPerStep ?? DEFAULT_PAGES_PER_STEP;
    const before = options.measure === false ? undefined : await usage();
    const report: CompactionReport = {
      pagesDropped: 0,
      eventsDropped: 0,
      bytesDropped: 0,
      basesWritten: 0,
      steps: 0,
      historyStartsAt: 1,
      blockedBy: [],
    };
    let races = 0;
    while (options.maxSteps === undefined || report.steps < options.maxSteps) {
      if (options.signal?.aborted) throw new AbortedError('Compaction');
      const plan = await connection.engine.planCompaction(policy, Date.now(), perStep);
      report.historyStartsAt = plan.historyStartsAt;
      const blocked = [...plan.blockers];
      const decoded = decodeAll(plan);
      const cut = usablePages(plan, decoded, blocked);
      report.blockedBy = blocked;
      if (cut === 0) break;
      const bases: SnapshotRecord[] = [];
      const byAggregate = eventsByAggregate(decoded, cut);
      for (const entry of plan.aggregates) {
        const seq = Math.max(0, ...entry.seqs.slice(0, cut));
        if (seq > 0 && (entry.base?.seq ?? 0) < seq) bases.push(await baseAt(entry, seq, byAggregate.get(entry.aggregateId) ?? []));
      }
      const pages = plan.pages.slice(0, cut).map((page) => page.first);
      const dropped = await connection.engine.dropCompacted({ historyStartsAt: plan.historyStartsAt, pages, bases });
      report.historyStartsAt = dropped.historyStartsAt;
      if (dropped.skipped === 'blocked') break;
      if (dropped.skipped === 'raced') {
        // Another tab compacted (or a checkpoint moved) meanwhile: plan again, a few times at most.
        if (++races > 5) break;
        continue;
      }
      report.steps++;
      report.pagesDropped += dropped.pages;
      report.eventsDropped += dropped.events;
      report.bytesDropped += dropped.bytes;
      report.basesWritten += dropped.basesWritten;
      // Let appends and reads in between: no step holds the log for long.
      await pause();
    }
    const after = before === undefined ? undefined : await usage();
    if (before !== undefined && after !== undefined) report.storage = { usageBefore: before, usageAfter: after };
    return report;
  }

  return { compact };
}

export type Compactor = ReturnType<typeof createCompactor>;
