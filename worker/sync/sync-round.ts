import { ChronicleError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { DEFAULT_LIMITS } from '../../src/core/protocol.ts';
import type { ChronicleDB, MetaRecord } from '../db.ts';
import { ingestConfirmed } from '../ingest.ts';
import { createConfirmedHeads } from '../confirmed-heads.ts';
import { readPendingEvents, recountForeignPending } from '../pending.ts';
import { applyRebase, planRebase, renumberPending, StalePlanError, type RebaseConflict, type RebaseDecision } from '../rebase.ts';
import type { Change, EventOutcome, SyncStatus } from '../types.ts';
import { confirmedIdAt } from '../reads.ts';
import { decideRefusal, hasHole, type Refusal } from './push-refusal.ts';
import { answerClears } from './round-errors.ts';
import { serverHistoryProblem } from './server-history.ts';
import { flushToDisk } from '../durability.ts';
import { ownPendingEvents } from '../../src/core/unfinished-work.ts';
import { SyncHttpError, type PullPage, type Transport } from './transport.ts';

/**
 * One sync round: pull what the server has, rebase pending events that
 * collide with it, push what is pending, and handle each refusal, until
 * nothing is left to do. The loop around it (sync-engine.ts) decides when
 * rounds run; this file decides what a round does.
 *
 * The rebase epoch (docs/protocol.md, "The rebase contract"): every push
 * carries the client's epoch, and before anything renumbers or re-sequences
 * pending events (a rebase, a renumbering after a refusal), the client fences
 * a higher epoch on the server. A push made before that, still on its way
 * (a slow proxy, a retry racing its original), is then refused as stale and
 * can never be stored after the rebase. The epoch is the store's `generation`
 * (bumped by every write of pending pages, persisted with them, so it only
 * grows and survives reloads), raised to what the server last said when that
 * is higher (a fence whose rebase was never applied, e.g. the tab closed).
 */

export interface RoundDeps {
  clientId: string;
  getDb(): Promise<ChronicleDB>;
  publish(change: Change): void;
  transport: Transport;
  /** The status the round keeps up to date (serverHead, counts, progress). */
  status: SyncStatus;
  setStatus(patch: Partial<SyncStatus>): void;
  decide?: ((conflicts: RebaseConflict[]) => Promise<[string, RebaseDecision][]>) | undefined;
  /** The loop was paused or stopped: the round ends at its next step boundary (see run). */
  halted(): boolean;
}

/**
 * How a round ended: it did all there was to do; it stopped early because the loop was paused or
 * stopped; or it took its share of steps (RoundOptions.maxSteps) with work left, which the next round,
 * started at once, goes on with.
 */
export type RoundEnd = 'done' | 'halted' | 'more';

export interface RoundOptions {
  pullLimit: number;
  pushLimit: number;
  /** Pull pages, and pushes, per round at most (default MAX_ROUND_STEPS). */
  maxSteps?: number;
}

const MAX_ROUND_STEPS = 10_000;

/**
 * Fails the round when `limit` steps in a row leave `mark` where it was: a
 * server that keeps answering without storing anything, or with the same
 * refusal, or with `hasMore` and nothing new, would otherwise get up to
 * MAX_ROUND_STEPS requests in a row, and the round would then end as if all
 * went well. (Narrowing a refusal down by halves takes ~10 steps without
 * progress: pushes get 32.)
 */
function stallGuard(limit: number, what: string): (mark: string) => void {
  let last: string | undefined;
  let still = 0;
  return (mark) => {
    still = mark === last ? still + 1 : 0;
    last = mark;
    if (still >= limit)
      throw new ChronicleError('SYNC_NO_PROGRESS', `The sync server ${what}${limit > 1 ? ` (${limit} times in a row)` : ''}`, { mark });
  };
}

/** What the refusal rules (push-refusal.ts) read of a push the server refused. */
const refusalOf = (error: SyncHttpError): Refusal => ({
  status: error.status,
  code: error.code,
  message: error.message,
  details: error.details,
  errorBody: error.errorBody,
});

/** The outcomes of this client's pending events that a pull brought back confirmed. */
function confirmedOutcomes(confirmed: Awaited<ReturnType<typeof ingestConfirmed>>['confirmed']): EventOutcome[] {
  return confirmed.map((c) => ({
    id: c.id,
    aggregateId: c.aggregateId,
    type: c.type,
    status: 'confirmed',
    position: c.position,
    seq: c.seq,
  }));
}

/** The outcomes of pending events a refusal rejected, with the reasons `reject` gives. */
function rejectedOutcomes(rejected: readonly StoredEvent[], reject: ReadonlyMap<string, { reason: string }>): EventOutcome[] {
  return rejected.map((e) => ({
    id: e.id,
    aggregateId: e.aggregateId,
    type: e.type,
    status: 'rejected',
    reason: reject.get(e.id)?.reason,
    previousSeq: e.seq,
  }));
}

/**
 * Fails the round when the server no longer holds the history this client
 * synced (server-history.ts): the id of the event at `meta.confirmedHead`
 * comes from the metadata, or its page for a store an older version synced.
 */
async function checkServerHistory(db: ChronicleDB, meta: MetaRecord, page: PullPage): Promise<void> {
  const localId = meta.confirmedHeadId ?? (await confirmedIdAt(db, meta.confirmedHead));
  const problem = serverHistoryProblem(meta.confirmedHead, localId, page);
  if (problem) throw problem;
}

/** A round that did all there was to do: its end is stored and shown. */
async function recordRoundDone(deps: RoundDeps): Promise<void> {
  const db = await deps.getDb();
  const syncRecord = { serverHead: deps.status.serverHead, lastSyncAt: Date.now(), lastError: null };
  await db.put('sync', syncRecord, 'state');
  // Paused while the last push was answered: the round is done, but the state stays the loop's ('paused').
  const state = deps.halted() ? {} : { state: 'online' as const };
  deps.setStatus({ ...state, lastSyncAt: syncRecord.lastSyncAt, lastError: null, progress: null });
}

/** Plans a rebase may make in one round before the round fails with REBASE_FAILED (and is retried later). */
const REBASE_ATTEMPTS = 20;

/**
 * Rebases the pending events that conflict with what the server holds (of `aggregates`, or all),
 * after a fence; planned again when a conflicting aggregate's pending events changed under the
 * plan (appends to other aggregates, say from another tab, leave it standing: applyRebase). One
 * fence serves every attempt: only this round pushes, and it pushes nothing until the rebase is in.
 */
async function rebaseConflicts(
  deps: RoundDeps,
  fence: (db: ChronicleDB) => Promise<number>,
  aggregates: readonly string[] | undefined,
): Promise<void> {
  let fenced = false;
  /** The aggregates of the last plan: what a failure names. */
  let conflicting: string[] = [];
  for (let attempt = 0; attempt < REBASE_ATTEMPTS; attempt++) {
    const db = await deps.getDb();
    const plan = await planRebase(db, aggregates);
    if (plan.foreignMiscounted) await recountForeignPending(db);
    if (plan.conflicts.length === 0) return;
    conflicting = plan.conflicts.map((c) => c.aggregateId);
    const decided = deps.decide ? await deps.decide(plan.conflicts) : [];
    if (!fenced) await fence(db);
    fenced = true;
    try {
      const outcomes = await applyRebase(db, plan, new Map(decided));
      deps.publish({ kind: 'rebased', aggregates: plan.conflicts.map((c) => c.aggregateId) });
      deps.publish({ kind: 'appended', aggregates: plan.conflicts.map((c) => [c.aggregateId, 0]), count: 0 });
      if (outcomes.length > 0) deps.publish({ kind: 'outcomes', outcomes });
      return;
    } catch (error) {
      if (!(error instanceof StalePlanError)) throw error;
    }
  }
  throw new ChronicleError(
    'REBASE_FAILED',
    `Could not rebase: the conflicting aggregates' pending events kept changing (${REBASE_ATTEMPTS} plans)`,
    { aggregates: conflicting.slice(0, 100), attempts: REBASE_ATTEMPTS },
  );
}

/** Tells the tabs what a pulled page stored: the aggregates it moved, the new confirmed head, this client's outcomes. */
function publishIngested(deps: Pick<RoundDeps, 'publish'>, result: Awaited<ReturnType<typeof ingestConfirmed>>): void {
  if (result.stored > 0) {
    deps.publish({ kind: 'appended', aggregates: result.moved, count: result.stored });
    deps.publish({ kind: 'confirmed', head: result.head, count: result.stored });
  }
  if (result.confirmed.length > 0) deps.publish({ kind: 'outcomes', outcomes: confirmedOutcomes(result.confirmed) });
}

export function createSyncRound(deps: RoundDeps, options: RoundOptions) {
  const { transport, status } = deps;
  const maxSteps = options.maxSteps ?? MAX_ROUND_STEPS;
  /** Events per push at most: the option, or the server's limit once a refusal said it (it holds for good). */
  let pushCeiling = options.pushLimit;
  /** Events per push now: halved to narrow down a refusal or fit the server's byte limit, for the rest of the round. */
  let pushLimit = pushCeiling;
  /** The lowest epoch the server will accept from this client, as far as this client knows. */
  let epochFloor = 0;

  const currentEpoch = async (db: ChronicleDB): Promise<number> => {
    const meta = await db.get('meta', 'client');
    return Math.max(meta?.generation ?? 0, epochFloor);
  };

  /** Raises the epoch on the server before pending events change (see the file comment). */
  const fence = async (db: ChronicleDB): Promise<number> => {
    const reply = await transport.fence(deps.clientId, (await currentEpoch(db)) + 1);
    epochFloor = Math.max(epochFloor, reply.epoch);
    return reply.clientSeq;
  };

  const refreshCounts = async (): Promise<void> => {
    const db = await deps.getDb();
    const meta = await db.get('meta', 'client');
    // This client's own: another device's pending events (importLog) are never pushed from here.
    if (meta) Object.assign(status, { pending: ownPendingEvents(meta), confirmedPosition: meta.confirmedHead });
  };

  const rebaseIfNeeded = (aggregates?: readonly string[]): Promise<void> => rebaseConflicts(deps, fence, aggregates);

  /**
   * Pulls pages until the server has no more. `haltable` (a round's first pull, maybe a long
   * initial sync) stops between pages once the loop is paused or stopped; the pulls that confirm
   * a push or precede a rebase or renumbering always finish: what follows needs all the server holds.
   */
  const pullAll = async (haltable = false): Promise<boolean> => {
    const db = await deps.getDb();
    let target = 0;
    let pulled = 0;
    // The next page, asked for while this one is stored (pipelined), and where it starts.
    let ahead: { after: number; page: ReturnType<Transport['pull']> } | undefined;
    const stalled = stallGuard(1, 'said hasMore, and its page moved nothing forward');
    const heads = createConfirmedHeads(); // read once per aggregate, kept as pages are stored (confirmed-heads.ts)
    let caughtUp = false;
    for (let step = 0; step < maxSteps; step++) {
      if (haltable && step > 0 && deps.halted()) break;
      const meta = await db.get('meta', 'client');
      const after = meta?.confirmedHead ?? 0;
      stalled(String(after));
      // A round's first pull starts at the last event this client holds, to check the server still holds it too.
      const check = haltable && step === 0 && after > 0 ? meta : undefined;
      const from = check ? after - 1 : after;
      // That event is for the check only: the encryption layer need not open it (Transport.pull); ingest skips it as held.
      const held = check ? after : undefined;
      const page = await (ahead?.after === from ? ahead.page : transport.pull(from, options.pullLimit, undefined, held));
      ahead = undefined;
      target = Math.max(target, page.head);
      status.serverHead = page.head;
      // The server answers: the last round's failure to reach it (offline, say) is no longer news while this
      // one runs, nor after a reload during it (the record a failed round left). Other failures stay until a
      // round ends without them.
      if (status.lastError && answerClears(status.lastError.code)) {
        deps.setStatus({ lastError: null });
        await db.put('sync', { serverHead: status.serverHead, lastSyncAt: status.lastSyncAt, lastError: null }, 'state');
      }
      if (check) await checkServerHistory(db, check, page);
      if (page.events.length > 0) {
        const last = page.events[page.events.length - 1]!.position;
        if (page.hasMore && typeof last === 'number') {
          ahead = { after: last, page: transport.pull(last, options.pullLimit) };
          ahead.page.catch(() => undefined); // a round that fails first leaves it unawaited
        }
        const result = await ingestConfirmed(db, page.events, heads);
        pulled += result.stored;
        publishIngested(deps, result);
        if (result.touchedByOthers.length > 0 && (status.pending > 0 || (meta ? ownPendingEvents(meta) : 0) > 0)) {
          await rebaseIfNeeded(result.touchedByOthers);
        }
        if (page.hasMore) deps.setStatus({ progress: { pulled, target }, confirmedPosition: result.head });
      }
      if (!page.hasMore) {
        status.caughtUpAt = Date.now();
        caughtUp = true;
        break;
      }
    }
    if (status.progress) status.progress = null;
    return caughtUp;
  };

  /**
   * Renumbers the pending events gaplessly from `from` (a number the server
   * named, the first pending clientSeq, or right after the server's mark),
   * moving `reject`ed ones to the rejected store. Fences first: the fence is
   * what keeps pushes made before the renumbering out, and it reads the mark.
   */
  const rejectAndRenumber = async (
    reject: Map<string, { code: string; reason: string }>,
    from: number | 'first-pending' | 'after-server-mark',
  ): Promise<void> => {
    const db = await deps.getDb();
    const mark = await fence(db);
    let start: number;
    if (from === 'after-server-mark') start = mark + 1;
    else if (from === 'first-pending') start = (await readPendingEvents(db, deps.clientId, 1, Infinity))[0]?.meta.clientSeq ?? 1;
    else start = from;
    const { rejected } = await renumberPending(db, start, reject);
    if (rejected.length > 0) {
      deps.publish({ kind: 'outcomes', outcomes: rejectedOutcomes(rejected, reject) });
      deps.publish({ kind: 'appended', aggregates: rejected.map((e) => [e.aggregateId, 0]), count: 0 });
      // Later events of those aggregates now follow a hole: the next push conflicts and rebases them.
      await rebaseIfNeeded(rejected.map((e) => e.aggregateId));
    }
  };

  /** Pushes the next batch of pending events; false when there was nothing to push. */
  const pushPending = async (): Promise<boolean> => {
    const db = await deps.getDb();
    const events: StoredEvent[] = await readPendingEvents(db, deps.clientId, pushLimit, DEFAULT_LIMITS.maxRequestBytes / 2);
    if (events.length === 0) return false;
    if (hasHole(events)) return rejectAndRenumber(new Map(), 'first-pending').then(() => true);
    await flushToDisk(db); // nothing leaves the device before it is on its disk (durability.ts)
    try {
      await transport.push(deps.clientId, events, await currentEpoch(db));
    } catch (error) {
      if (!(error instanceof SyncHttpError)) throw error;
      const action = decideRefusal(refusalOf(error), events);
      switch (action.kind) {
        case 'rebase':
          await pullAll();
          await rebaseIfNeeded();
          return true;
        case 'renumber':
          await rejectAndRenumber(new Map(), action.from);
          return true;
        case 'renumber-after-mark':
          // Our own events the server stored under other numbers come back confirmed first.
          await pullAll();
          await rejectAndRenumber(new Map(), 'after-server-mark');
          return true;
        case 'epoch':
          epochFloor = Math.max(epochFloor, action.current);
          return true;
        case 'reject':
          await rejectAndRenumber(action.events, 'first-pending');
          pushLimit = pushCeiling;
          return true;
        case 'split':
          pushLimit = Math.min(pushLimit, action.size);
          if (action.serverLimit) pushCeiling = Math.min(pushCeiling, action.size);
          return true;
        case 'retry':
          throw error;
      }
    }
    // Pull right away: it brings our events back with their positions (confirmation).
    await pullAll();
    return true;
  };

  return {
    refreshCounts,

    /**
     * One full round: pull, rebase, push until nothing is pending, then record
     * the sync. Once the loop is paused or stopped it sends nothing more: it
     * ends between pull pages, before the rebase and before each push (a push
     * already sent is answered and confirmed first), and leaves the status to
     * the loop.
     */
    async run(): Promise<RoundEnd> {
      deps.setStatus({ state: 'syncing' });
      // A push size halved for the server's byte limit lasts a round: events differ in size from one round to the next.
      pushLimit = pushCeiling;
      await refreshCounts();
      const caughtUp = await pullAll(true);
      if (deps.halted()) return 'halted';
      if (!caughtUp) return 'more';
      await rebaseIfNeeded();
      const stalled = stallGuard(32, 'took pushes, and no pending event was confirmed or refused');
      let pushedAll = false;
      for (let step = 0; step < maxSteps; step++) {
        await refreshCounts();
        stalled(`${status.pending}:${status.confirmedPosition}`);
        if (deps.halted()) return 'halted';
        if (!(await pushPending())) {
          pushedAll = true;
          break;
        }
      }
      await refreshCounts();
      // Out of steps with events still pending: not done, and not 'online' (the next round goes on).
      if (!pushedAll && status.pending > 0) return 'more';
      await recordRoundDone(deps);
      return 'done';
    },
  };
}
export type SyncRound = ReturnType<typeof createSyncRound>;
