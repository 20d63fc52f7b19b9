import { ChronicleError } from '../src/core/errors.ts';
import { decodePageJson } from './page-codec.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleDB, MetaRecord, PageRecord } from './db.ts';
import { rewritePendingPages, pendingRangeAll } from './pending.ts';
import { foreignPendingCount } from '../src/core/unfinished-work.ts';
import { CONFIRMED, DROPPED, PENDING, type PageKey } from './types.ts';
import { keyId, pendingPageKeysOf, readKeyed } from './lookups.ts';
import { readBacklog, readPages } from './page-store.ts';

/** One aggregate whose pending events no longer follow the server's head. */
export interface RebaseConflict {
  aggregateId: string;
  aggregateType: string;
  /** The highest confirmed seq of the aggregate. */
  confirmedHead: number;
  /** Its pending events, in order, as stored (before re-sequencing). */
  pending: StoredEvent[];
}

/**
 * What the app decided for one pending event (default: keep). A transform's
 * data is in the current shape of its type: `version` is the definition's
 * version it was checked against, which the event takes (it may have been
 * stored at an older one, before an upgrade).
 */
export type RebaseDecision =
  { action: 'keep' } | { action: 'drop'; reason?: string } | { action: 'transform'; data: unknown; version?: number };

/** What happened to a pending event in a rebase. */
export interface RebaseOutcome {
  id: string;
  aggregateId: string;
  type: string;
  status: 'rebased' | 'rejected';
  previousSeq: number;
  seq?: number;
  reason?: string;
}

export interface RebasePlan {
  conflicts: RebaseConflict[];
  /**
   * The confirmed head the plan was read at. Applying it checks that, and that
   * each conflicting aggregate's pending events are still the planned ones
   * (planStillHolds): appends to other aggregates meanwhile do not matter.
   */
  confirmedHead: number;
  /**
   * The full pass (no `onlyAggregates`) counted other clients' pending events and found a number other than
   * the one the meta record keeps (or none kept: unknown): the sync round counts them anew (recountForeignPending).
   */
  foreignMiscounted?: true;
}

/**
 * Finds aggregates whose pending events collide with confirmed ones: their
 * first pending seq is not the confirmed head + 1.
 *
 * For some aggregates (those a pull touched), only their pending pages are
 * read, found by the stream index. For all of them (each round's first
 * check), the queue is read page by page, twice at most, and never held
 * decoded: first each aggregate's (clientSeq, seq) pairs, to find the
 * aggregates whose pending events do not follow their confirmed head; then,
 * if there are any, those aggregates' events. A large offline backlog
 * otherwise held every pending event in memory at the start of every round.
 */
export async function planRebase(db: ChronicleDB, onlyAggregates?: readonly string[]): Promise<RebasePlan> {
  const tx = db.transaction(['pages', 'pageIndex', 'meta']);
  const meta = await tx.objectStore('meta').get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
  const byAggregate = new Map<string, StoredEvent[]>();
  // Only this client's own pending events are planned for: another device's (importLog) are never rebased here.
  const own = (event: StoredEvent): boolean => event.meta.clientId === meta.clientId;
  const collect = (event: StoredEvent): void => {
    if (!own(event)) return;
    const list = byAggregate.get(event.aggregateId);
    if (list) list.push(event);
    else byAggregate.set(event.aggregateId, [event]);
  };
  let confirmedHeads: Map<string, number> | undefined;
  let foreignMiscounted = false;
  if (onlyAggregates) {
    const only = new Set(onlyAggregates);
    for (const page of await pendingPagesOf(tx, only)) {
      for (const event of decodePageJson(page.json)) if (only.has(event.aggregateId)) collect(event);
    }
  } else {
    const runs = new Map<string, number[]>();
    let foreign = 0;
    await eachPendingEvent(tx, (event) => {
      if (!own(event)) {
        foreign++;
        return;
      }
      const run = runs.get(event.aggregateId);
      if (run) run.push(event.meta.clientSeq, event.seq);
      else runs.set(event.aggregateId, [event.meta.clientSeq, event.seq]);
    });
    confirmedHeads = await confirmedHeadsOf(tx, meta, runs.keys());
    const heads = confirmedHeads;
    // Read with every pending page, free here: a count an older build left wrong is mended by the round.
    if (foreign !== foreignPendingCount(meta)) foreignMiscounted = true;
    const candidates = new Set([...runs].filter(([aggregateId, run]) => !runFollows(run, heads.get(aggregateId) ?? 0)).map(([a]) => a));
    if (candidates.size > 0) {
      await eachPendingEvent(tx, (event) => {
        if (candidates.has(event.aggregateId)) collect(event);
      });
    }
  }
  if (byAggregate.size === 0) {
    // No pending events in question (another device wrote to orders this one did not touch): nothing to rebase.
    await tx.done;
    return { conflicts: [], confirmedHead: meta.confirmedHead, ...(foreignMiscounted ? { foreignMiscounted } : {}) };
  }
  confirmedHeads ??= await confirmedHeadsOf(tx, meta, byAggregate.keys());
  await tx.done;
  return {
    conflicts: findConflicts(byAggregate, confirmedHeads),
    confirmedHead: meta.confirmedHead,
    ...(foreignMiscounted ? { foreignMiscounted } : {}),
  };
}

type PlanTx = Parameters<typeof pendingPageKeysOf>[0];

/** Calls `visit` for every pending event, in page order, reading PAGES_AT_ONCE pages at a time. */
async function eachPendingEvent(tx: PlanTx, visit: (event: StoredEvent) => void): Promise<void> {
  const PAGES_AT_ONCE = 32;
  let lower: PageKey | undefined;
  for (;;) {
    const range = lower ? IDBKeyRange.bound(lower, [PENDING, Infinity], true) : pendingRangeAll();
    const { keys, pages } = await readPages(tx.objectStore('pages'), range, PAGES_AT_ONCE);
    for (const page of pages) for (const event of decodePageJson(page.json)) visit(event);
    if (pages.length < PAGES_AT_ONCE) return;
    lower = keys[keys.length - 1];
  }
}

/**
 * Whether an aggregate's pending events, as flat (clientSeq, seq) pairs,
 * follow its confirmed head: in clientSeq order, seqs head + 1, + 2, ...
 * (the rule findConflicts applies to the events themselves). Pure.
 */
export function runFollows(run: readonly number[], confirmedHead: number): boolean {
  const order: number[] = [];
  for (let i = 0; i < run.length; i += 2) order.push(i);
  order.sort((a, b) => run[a]! - run[b]!);
  return order.every((at, i) => run[at + 1] === confirmedHead + 1 + i);
}

/** The highest confirmed seq of each aggregate: from the stream index, and the confirmed pages not indexed yet. */
async function confirmedHeadsOf(tx: PlanTx, meta: MetaRecord, aggregateIds: Iterable<string>): Promise<Map<string, number>> {
  const index = tx.objectStore('pageIndex').index('stream');
  const backlog = await readBacklog(tx, meta);
  const confirmedHeads = new Map<string, number>();
  for (const aggregateId of aggregateIds) {
    // Walk the aggregate's index entries from the top to its highest confirmed page.
    let confirmedHead = 0;
    let cursor = await index.openKeyCursor(IDBKeyRange.bound([aggregateId], [aggregateId, []]), 'prev');
    while (cursor) {
      // A dropped pages' record (compaction) holds confirmed heads too.
      if (cursor.primaryKey[0] === CONFIRMED || cursor.primaryKey[0] === DROPPED) {
        confirmedHead = cursor.key[1];
        break;
      }
      cursor = await cursor.continue();
    }
    confirmedHeads.set(aggregateId, Math.max(confirmedHead, backlog.heads.get(aggregateId) ?? 0));
  }
  return confirmedHeads;
}

/**
 * The pending pages some aggregates' events are in, found by the stream
 * index. A sync round plans for the aggregates each pull touched: while
 * another device keeps writing to other orders, reading the whole queue for
 * every pull made a large backlog's sync slower the busier the log was.
 */
async function pendingPagesOf(tx: PlanTx, only: ReadonlySet<string>): Promise<PageRecord[]> {
  if (only.size === 0) return [];
  const keys = await pendingPageKeysOf(tx, only);
  const read = await readKeyed(tx, keys);
  const pages: PageRecord[] = [];
  for (const key of keys) {
    const page = read.get(keyId(key));
    if (page) pages.push(page);
  }
  return pages;
}

/**
 * Whether a plan still fits the pending events as they are now: every
 * conflicting aggregate has exactly the pending events it was planned with,
 * in the same order and at the same seqs (the app decided on those). Pending
 * events of other aggregates may have come meanwhile (another tab kept
 * appending while the app decided and the client fenced): they are kept as
 * they are and renumbered with the rest, as the plan's own would be. Pure.
 */
export function planStillHolds(events: readonly StoredEvent[], conflicts: readonly RebaseConflict[]): boolean {
  const planned = new Map(conflicts.map((c) => [c.aggregateId, c.pending]));
  const now = new Map<string, StoredEvent[]>();
  for (const event of events) {
    if (!planned.has(event.aggregateId)) continue;
    const list = now.get(event.aggregateId);
    if (list) list.push(event);
    else now.set(event.aggregateId, [event]);
  }
  for (const [aggregateId, pending] of planned) {
    const current = [...(now.get(aggregateId) ?? [])].sort((a, b) => a.meta.clientSeq - b.meta.clientSeq);
    if (current.length !== pending.length) return false;
    if (!current.every((e, i) => e.id === pending[i]!.id && e.seq === pending[i]!.seq)) return false;
  }
  return true;
}

/**
 * The aggregates whose pending events no longer follow their confirmed
 * events: sorted by clientSeq, the pending seqs must be confirmedHead + 1,
 * + 2, ... Pure: the store reads, this decides.
 */
export function findConflicts(
  pendingByAggregate: ReadonlyMap<string, StoredEvent[]>,
  confirmedHeads: ReadonlyMap<string, number>,
): RebaseConflict[] {
  const conflicts: RebaseConflict[] = [];
  for (const [aggregateId, events] of pendingByAggregate) {
    const confirmedHead = confirmedHeads.get(aggregateId) ?? 0;
    const pending = [...events].sort((a, b) => a.meta.clientSeq - b.meta.clientSeq);
    if (!pending.every((e, i) => e.seq === confirmedHead + 1 + i)) {
      conflicts.push({ aggregateId, aggregateType: pending[0]!.aggregateType, confirmedHead, pending });
    }
  }
  return conflicts;
}

/** What a rebase does to the pending events, decided without storage (resequencePending). */
export interface Resequenced {
  /** The pending events that stay, in order, with their new seq and clientSeq. */
  keep: StoredEvent[];
  /** The events a rebase rule dropped, with the reason. */
  dropped: { event: StoredEvent; reason: string }[];
  outcomes: RebaseOutcome[];
  /** The clientSeq the kept events are numbered from (the first pending one's). */
  firstClientSeq: number;
}

/**
 * Re-sequences the pending events (all of them, in order) after the server's:
 * in each conflicting aggregate, each event is kept (the default), dropped or
 * transformed by its decision, and the kept ones take confirmedHead + 1, + 2,
 * ... (ids kept). Events of other aggregates are untouched. Then every kept
 * event is renumbered gaplessly from the first pending clientSeq (dropped
 * events free their numbers). Pure: applyRebase stores the result.
 */
export function resequencePending(
  events: readonly StoredEvent[],
  conflicts: readonly RebaseConflict[],
  decisions: ReadonlyMap<string, RebaseDecision>,
): Resequenced {
  const conflicted = new Set(conflicts.map((c) => c.aggregateId));
  const nextSeq = new Map(conflicts.map((c) => [c.aggregateId, c.confirmedHead + 1]));
  const keep: StoredEvent[] = [];
  const dropped: Resequenced['dropped'] = [];
  const outcomes: RebaseOutcome[] = [];
  let firstClientSeq = Infinity;
  for (const event of events) {
    firstClientSeq = Math.min(firstClientSeq, event.meta.clientSeq);
    if (!conflicted.has(event.aggregateId)) {
      keep.push(event);
      continue;
    }
    const decision = decisions.get(event.id) ?? { action: 'keep' };
    const previousSeq = event.seq;
    if (decision.action === 'drop') {
      const reason = decision.reason ?? 'dropped by the aggregate rebase rule';
      dropped.push({ event: { ...event }, reason });
      outcomes.push({ id: event.id, aggregateId: event.aggregateId, type: event.type, status: 'rejected', previousSeq, reason });
      continue;
    }
    if (decision.action === 'transform') {
      event.data = decision.data;
      if (decision.version !== undefined) event.version = decision.version;
    }
    const seq = nextSeq.get(event.aggregateId)!;
    nextSeq.set(event.aggregateId, seq + 1);
    event.seq = seq;
    outcomes.push({ id: event.id, aggregateId: event.aggregateId, type: event.type, status: 'rebased', previousSeq, seq });
    keep.push(event);
  }
  // clientSeqs stay gapless: the kept events are renumbered from the first unconfirmed one.
  keep.forEach((event, i) => {
    event.meta = { ...event.meta, clientSeq: firstClientSeq + i };
  });
  return { keep, dropped, outcomes, firstClientSeq };
}

/**
 * Renumbers pending events gaplessly from `from`, leaving out the ones in
 * `reject` (refused by the server for good). Pure: renumberPending stores it.
 */
export function renumberEvents(
  events: readonly StoredEvent[],
  from: number,
  reject: ReadonlyMap<string, { code: string; reason: string }>,
): { keep: StoredEvent[]; dropped: StoredEvent[] } {
  const keep: StoredEvent[] = [];
  const dropped: StoredEvent[] = [];
  for (const event of events) (reject.has(event.id) ? dropped : keep).push(event);
  keep.forEach((event, i) => {
    event.meta = { ...event.meta, clientSeq: from + i };
  });
  return { keep, dropped };
}

/** The pending events of this client, and those of other clients (importLog of another device's export), each in order. */
function splitPending(events: readonly StoredEvent[], clientId: string): { own: StoredEvent[]; theirs: StoredEvent[] } {
  const own: StoredEvent[] = [];
  const theirs: StoredEvent[] = [];
  for (const event of events) (event.meta.clientId === clientId ? own : theirs).push(event);
  return { own, theirs };
}

/**
 * Another device's pending events a rebase keeps: all but those of the aggregates it re-sequences. This
 * client's events there take the seqs after the server's, which theirs held or were stacked on; they
 * leave the pending area, as when a pull brings another event at their seq (ingest.ts), never rebased
 * here: their device rebases and pushes them, and they come back confirmed. Pure.
 */
function keptTheirs(theirs: readonly StoredEvent[], conflicts: readonly RebaseConflict[]): StoredEvent[] {
  if (theirs.length === 0) return [];
  const conflicted = new Set(conflicts.map((c) => c.aggregateId));
  return theirs.filter((event) => !conflicted.has(event.aggregateId));
}

/** The conflicting aggregates moved between a rebase's plan and its transaction: the sync round plans again (never reaches the app). */
export class StalePlanError extends Error {
  override name = 'StalePlanError';
  constructor() {
    super('The log changed while the rebase was being decided; plan again');
  }
}

/**
 * Applies a rebase in one transaction: each conflicting aggregate's pending
 * events, minus dropped ones, take the seqs after its confirmed head (ids
 * kept); dropped events move to the rejected store; pending clientSeqs are
 * renumbered without gaps; snapshots of those aggregates are deleted, since
 * they covered events whose seqs changed.
 */
export async function applyRebase(
  db: ChronicleDB,
  plan: RebasePlan,
  decisions: ReadonlyMap<string, RebaseDecision>,
): Promise<RebaseOutcome[]> {
  const tx = db.transaction(['pages', 'pageIndex', 'meta', 'snapshots', 'rejected'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const meta = await metaStore.get('client');
  const rejected = tx.objectStore('rejected');
  const now = Date.now();
  let result: Resequenced | undefined;
  let after: number;
  let ownAfter = 0;
  try {
    if (!meta || meta.confirmedHead !== plan.confirmedHead) throw new StalePlanError();
    ({ after } = await rewritePendingPages(tx, meta, (events) => {
      const { own, theirs } = splitPending(events, meta.clientId);
      // Thrown before any page is written: the transaction is aborted below (as for any failure in here).
      if (!planStillHolds(own, plan.conflicts)) throw new StalePlanError();
      result = resequencePending(own, plan.conflicts, decisions);
      for (const { event, reason } of result.dropped) {
        rejected.put({ id: event.id, event, reason, code: 'REBASE_DROPPED', rejectedAt: now }, event.id).catch(() => undefined);
      }
      ownAfter = result.keep.length;
      return [...result.keep, ...keptTheirs(theirs, plan.conflicts)];
    }));
  } catch (error) {
    // Whatever failed (a stale plan, or data a rule's transform made that cannot be stored), nothing of the
    // rebase may stay: the pending index is deleted and some pages may be written by now, and a transaction
    // left alone would commit them.
    try {
      tx.abort();
    } catch {
      // Already ended: it aborted on its own (a failed request), which is the same outcome.
    }
    await tx.done.catch(() => undefined);
    throw error;
  }
  const outcomes = result?.outcomes ?? [];
  const firstClientSeq = result?.firstClientSeq ?? Infinity;
  for (const { aggregateId } of plan.conflicts)
    tx.objectStore('snapshots')
      .delete(aggregateId)
      .catch(() => undefined);
  meta.pendingEvents = after;
  meta.nextClientSeq = ownAfter > 0 ? firstClientSeq + ownAfter : Number.isFinite(firstClientSeq) ? firstClientSeq : meta.nextClientSeq;
  meta.generation = (meta.generation ?? 0) + 1;
  metaStore.put(meta, 'client').catch(() => undefined);
  await tx.done;
  return outcomes;
}

/**
 * Renumbers every pending event's clientSeq from `from` without gaps (the
 * server told us which number it expects next), optionally moving events the
 * server refused for good to the rejected store (and dropping the snapshots
 * of their aggregates, which may have folded them).
 */
export async function renumberPending(
  db: ChronicleDB,
  from: number,
  reject: ReadonlyMap<string, { code: string; reason: string }> = new Map(),
): Promise<{ pending: number; rejected: StoredEvent[] }> {
  const tx = db.transaction(['pages', 'pageIndex', 'meta', 'rejected', 'snapshots'], 'readwrite');
  const meta = await tx.objectStore('meta').get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
  const dropped: StoredEvent[] = [];
  const now = Date.now();
  let ownAfter = 0;
  const { after } = await rewritePendingPages(tx, meta, (events) => {
    // Another device's pending events keep their numbers: they are that device's to push.
    const { own, theirs } = splitPending(events, meta.clientId);
    const { keep, dropped: refused } = renumberEvents(own, from, reject);
    ownAfter = keep.length;
    for (const event of refused) {
      const why = reject.get(event.id)!;
      dropped.push(event);
      tx.objectStore('rejected')
        .put({ id: event.id, event, reason: why.reason, code: why.code, rejectedAt: now }, event.id)
        .catch(() => undefined);
    }
    return [...keep, ...theirs];
  });
  // A snapshot may have folded a refused event. When it was its aggregate's last pending one, no rebase
  // follows (what is left still follows the confirmed head), and the snapshot would outlive it: the loads
  // would keep its effect, and the next event, appended at its seq, would hide behind the snapshot.
  for (const aggregateId of new Set(dropped.map((e) => e.aggregateId)))
    tx.objectStore('snapshots')
      .delete(aggregateId)
      .catch(() => undefined);
  meta.pendingEvents = after;
  meta.nextClientSeq = from + ownAfter;
  meta.generation = (meta.generation ?? 0) + 1;
  tx.objectStore('meta')
    .put(meta, 'client')
    .catch(() => undefined);
  await tx.done;
  return { pending: ownAfter, rejected: dropped };
}
