import { isAfter, sameCursor, storedAfter, type LogEnd } from '../core/cursor.ts';
import { AbortedError, HistoryCompactedError, type UnserializableDataError } from '../core/errors.ts';
import { projectionRuntime, type AnyProjectionDefinition, type ProjectionRuntime } from '../core/projection.ts';
import type { ProjectionRecord, ProjectionStamp } from '../../worker/contract.ts';
import { checkState, cloneFailure, unstorableState } from './state-check.ts';
import type { EngineConnection } from './connection.ts';
import type { StoreContext } from './context.ts';
import { SCAN_BATCH_EVENTS, scanLog } from './log-scan.ts';
import type { PlacedEvent } from './log-events.ts';
import { PROGRESS_EVERY } from './replay.ts';
import type { ProjectionSnapshot, ReplayProgress } from './types.ts';

/**
 * What a projection snapshot was folded from, beyond its cursor: how many
 * events, which pending rewrite (a rebase or a rejection refolds pending
 * events under the same cursor), and which rebuild of this tab's runner (a
 * rebuild may end at the same cursor and count with another state).
 * Subscribers are told when it changes.
 */
const revisions = new WeakMap<ProjectionSnapshot<unknown>, string>();

/** The snapshot's revision (see `revisions`); its cursor alone for a snapshot not made here (time travel). */
export function snapshotRevision(snapshot: ProjectionSnapshot<unknown>): string {
  return revisions.get(snapshot) ?? JSON.stringify(snapshot.cursor);
}

export interface ProjectionRunner {
  readonly name: string;
  /** Applies every event after the stored cursors; resolves with the state afterwards. */
  catchUp(): Promise<ProjectionSnapshot<unknown>>;
  rebuild(options?: { onProgress?(p: ReplayProgress): void; signal?: AbortSignal }): Promise<ProjectionSnapshot<unknown>>;
}

interface AdvanceOptions {
  rebuild?: boolean;
  onProgress?(p: ReplayProgress): void;
  signal?: AbortSignal;
}

/** A fold from the start of the log needs all of it: HistoryCompactedError once compaction dropped some. */
async function refuseOverCompacted(connection: EngineConnection, name: string): Promise<void> {
  const { historyStartsAt } = await connection.engine.stats();
  if (historyStartsAt > 1) throw new HistoryCompactedError('state', historyStartsAt, { projection: name, requestedFrom: 1 });
}

/**
 * Why a record cannot be stored as it is (its state, or its pending layer's,
 * is one storage would change or cannot keep: checkState), as the typed
 * error; undefined when it can. The whole state is walked at each commit,
 * as the structured clone that stores it copies the whole state anyway:
 * objects found storable before are not trusted, since a handler may have
 * changed them in place (pushed a class instance into an array it had).
 *
 * Such a record is never stored: the handlers would get a changed state on
 * the next batch or after a reload, which start from the stored copy. The
 * runner keeps it in memory and folds on, since a later batch may end on a
 * storable state, stored then over the same stamp (its cursors cover both
 * batches); a catch-up that ends on one throws this error, and the stored
 * record stays at its last storable state, for the next catch-up to fold on.
 */
function unstorableRecord(record: ProjectionRecord): UnserializableDataError | undefined {
  const states = record.pending ? [record.state, record.pending.state] : [record.state];
  for (const state of states) {
    const { problem } = checkState(state);
    if (problem) return unstorableState({ projection: record.name }, problem);
  }
  return undefined;
}

/** commitProjection, with a state the structured clone refuses anyway (see cloneFailure) as the typed error. */
async function storeRecord(connection: EngineConnection, expected: ProjectionStamp, record: ProjectionRecord): Promise<boolean> {
  try {
    return await connection.engine.commitProjection(expected, record);
  } catch (error) {
    throw cloneFailure(error, { projection: record.name }) ?? error;
  }
}

/** A projection's record before any event: its initial state, no cursor. */
function freshRecord(projection: { name: string; version: number; initialState(): unknown }): ProjectionRecord {
  return {
    name: projection.name,
    version: projection.version,
    state: projection.initialState(),
    cursor: null,
    applied: 0,
    pending: null,
    updatedAt: Date.now(),
  };
}

/** What a record shows: its confirmed state, with its pending layer on top (see `revisions`; `rebuilds`: the runner's count). */
function snapshotOf(record: ProjectionRecord, rebuilds: number): ProjectionSnapshot<unknown> {
  const snapshot = record.pending
    ? { state: record.pending.state, cursor: record.pending.cursor ?? record.cursor, applied: record.applied + record.pending.applied }
    : { state: record.state, cursor: record.cursor, applied: record.applied };
  revisions.set(snapshot, `${JSON.stringify(snapshot.cursor)}|${snapshot.applied}|${record.pending?.rewrites ?? 0}|${rebuilds}`);
  return snapshot;
}

/**
 * Before a rebuild: refuses one that compacted history makes impossible
 * while the projection still works (its record untouched), then replaces
 * the record by an empty one (`fresh`) in place. Deleting it instead would
 * let compaction drop history the old cursor held until the rebuild's scan
 * stores a cursor again.
 */
async function resetRecord(
  connection: EngineConnection,
  projection: { name: string; version: number },
  fresh: () => ProjectionRecord,
): Promise<void> {
  const { engine } = connection;
  await refuseOverCompacted(connection, projection.name);
  for (let attempt = 0; attempt < 100; attempt++) {
    const { record: stored } = await engine.getProjection(projection.name);
    // A newer build's record stays: this build's rebuild folds in memory (see `local` in the runner).
    if (stored && stored.version > projection.version) return;
    const current = stored && stored.version === projection.version ? stored : undefined;
    const stamp = { cursor: current?.cursor ?? null, pendingCursor: current?.pending?.cursor ?? null };
    const record = fresh();
    const unstorable = unstorableRecord(record);
    if (unstorable) throw unstorable;
    if (await storeRecord(connection, stamp, record)) return;
  }
  throw new Error(`Projection "${projection.name}" could not be reset after 100 attempts`);
}

/**
 * The events of a batch (of a projection's types) up to the first one this
 * app version cannot read (a newer version's: see UnknownEvent), and whether
 * there is one. The projection stops before it, in this tab and in its stored
 * record, so that a build that can read it folds it: skipped here, the
 * record's cursor would pass it for every build for good.
 */
function readableRun(matches: readonly PlacedEvent[]): { events: readonly PlacedEvent[]; stop: boolean } {
  const at = matches.findIndex((placed) => !placed.event.known);
  return at < 0 ? { events: matches, stop: false } : { events: matches.slice(0, at), stop: true };
}

/** A record's pending layer (ProjectionRecord.pending). */
type PendingLayer = NonNullable<ProjectionRecord['pending']>;

/**
 * How many ids of other clients' events folded while pending and not met confirmed a record keeps beyond its
 * pending layer (ProjectionRecord.theirsFolded), once the pending events are folded again: more are kept only
 * while that many left the pending area unconfirmed (another event took their seq). The oldest are dropped:
 * should their device push them later, their confirmed fold is then not flagged as a replay.
 */
const MAX_THEIRS_FOLDED = 10_000;

/**
 * The ids whose confirmed fold is a replay as another client's event folded while pending: those the pending
 * layer folded, and those of layers dropped since (see ProjectionRecord.theirsFolded).
 */
function theirsAwaited(record: ProjectionRecord): Set<string> {
  return new Set([...(record.theirsFolded ?? []), ...(record.pending?.theirs ?? [])]);
}

/** `record` carrying `ids` as its `theirsFolded`, without the field when there are none (as records were before it). */
function withTheirsFolded(record: ProjectionRecord, ids: Iterable<string>): ProjectionRecord {
  const next = { ...record };
  delete next.theirsFolded;
  const list = [...ids];
  if (list.length > 0) next.theirsFolded = list;
  return next;
}

/**
 * `base` with a batch of confirmed `events` folded (`state`, up to `cursor`), its pending layer dropped (it is
 * folded again), and the ids of `theirs` these events did not meet kept as its `theirsFolded` (`theirs` loses
 * those they met).
 */
function confirmedOver(
  base: ProjectionRecord,
  events: readonly PlacedEvent[],
  next: { state: unknown; cursor: ProjectionRecord['cursor'] },
  theirs: Set<string>,
): ProjectionRecord {
  if (theirs.size > 0) for (const { event } of events) theirs.delete(event.id);
  return withTheirsFolded({ ...base, ...next, applied: base.applied + events.length, pending: null, updatedAt: Date.now() }, theirs);
}

/**
 * `layer` with `events` folded on top (`state`) up to `cursor`, at the log's `rewrites`: its `theirs` gains
 * the ids of other clients' events among them (absent while there are none).
 */
function layerOver(
  layer: PendingLayer,
  events: readonly PlacedEvent[],
  next: { state: unknown; cursor: PendingLayer['cursor']; rewrites: number },
  clientId: string,
): PendingLayer {
  const ids = events.filter(({ event }) => event.meta.clientId !== clientId).map(({ event }) => event.id);
  const theirs = ids.length > 0 ? [...(layer.theirs ?? []), ...ids] : layer.theirs;
  return { ...next, applied: layer.applied + events.length, slots: true, ...(theirs ? { theirs } : {}) };
}

/**
 * Once the pending events are folded anew: `record` with its `theirsFolded` cut to MAX_THEIRS_FOLDED ids, when
 * over: those the pending layer holds again go first (its `theirs` keeps them), then the oldest. Undefined
 * when it is not over.
 */
function trimmedTheirs(record: ProjectionRecord): ProjectionRecord | undefined {
  const carried = record.theirsFolded;
  if (!carried || carried.length <= MAX_THEIRS_FOLDED) return undefined;
  const inLayer = new Set(record.pending?.theirs ?? []);
  return withTheirsFolded(record, carried.filter((id) => !inLayer.has(id)).slice(-MAX_THEIRS_FOLDED));
}

/**
 * Keeps one projection up to date, in two layers (see ProjectionRecord):
 * confirmed events fold into the durable state exactly once, in position
 * order; pending events fold on top of it, and are folded again whenever
 * confirmed events arrive, since a sync may reorder or re-sequence them.
 *
 * Each batch is committed with a compare-and-set on the cursors it started
 * from: if another tab committed first, the batch is thrown away and the
 * stored record reloaded, so the stored state never applies an event twice.
 *
 * Handlers are told `isReplay` by one rule (DESIGN.md): an event is a replay
 * when it is delivered again (a pending event folded anew, our own event
 * folded once more when the server confirms it) or was stored before the
 * rebuild or the store's opening; an event stored after the store opened is
 * live, even when a projection's first catch-up is what folds it.
 *
 * A rebuild holds the runner from its reset to its last commit: catch-ups
 * asked for meanwhile (a subscriber's, a listed projection's, a `get()`)
 * wait for it and then fold only what came after, so the rebuild folds
 * every event itself (its progress, its replay sample) and no caller in this
 * tab is shown the emptied or half-folded state.
 */
export function createProjectionRunner(ctx: StoreContext, definition: AnyProjectionDefinition): ProjectionRunner {
  const { connection, registry, clientId } = ctx;
  const projection = projectionRuntime(definition);
  const types = Object.keys(projection.handlers).filter((t) => typeof projection.handlers[t] === 'function');
  const slot = oneAtATime<ProjectionSnapshot<unknown>>();
  /** Events stored up to here are history: the log end when the store opened, or when the last rebuild began. */
  let historyEnd: LogEnd = ctx.openedAt;
  /** The newest pending cursor this session has folded; a pending event at or before it is folded again. */
  let liveFrontier: ProjectionRecord['cursor'] = null;
  /**
   * The stored cursor this runner last stopped at, before an event it cannot
   * read (readableRun): while the stored record still ends there, nothing can
   * be folded, and the catch-up does not scan again (each append would).
   */
  let stoppedAt: ProjectionRecord['cursor'] | undefined;
  /** Events handed to handlers so far (store.metrics() counts them per catch-up). */
  let eventsFolded = 0;
  /**
   * While a newer build's record is stored under this projection's name (its
   * tab is open beside this one), this build's record, kept here instead: it
   * must not replace the newer one, or each tab would fold the whole log again
   * on every catch-up. Folded from the start once, then kept up to date.
   */
  let local: ProjectionRecord | undefined;
  /** Rebuilds this runner began: part of its snapshots' revisions. */
  let rebuilds = 0;

  const fresh = (): ProjectionRecord => freshRecord(projection);
  const fold = (state: unknown, events: readonly PlacedEvent[], isReplay: (p: PlacedEvent) => boolean): unknown => {
    eventsFolded += events.length;
    return foldEvents(projection.handlers, state, events, isReplay);
  };

  const advance = async (options: AdvanceOptions = {}): Promise<ProjectionSnapshot<unknown>> => {
    const { engine } = connection;
    const started = ctx.metrics.now();
    const foldedBefore = eventsFolded;
    let total = 0;
    if (options.onProgress) {
      const stats = await engine.stats();
      total = stats.pendingEvents + stats.confirmedEvents;
    }
    if (options.rebuild) historyEnd = await engine.logEnd();
    // With progress to report, scan batches of PROGRESS_EVERY events, so it comes that often; the confirmed
    // step still commits about every SCAN_BATCH_EVENTS (each commit checks and copies the whole state).
    const batchEvents = options.onProgress ? PROGRESS_EVERY : undefined;
    const progressOf = progressReporter(options.onProgress, total);
    for (let attempt = 0; attempt < 100; attempt++) {
      const { record: stored, pendingRewrites } = await engine.getProjection(projection.name);
      const superseded = stored !== undefined && stored.version > projection.version;
      if (!superseded) local = undefined;
      let record = superseded ? (local ?? fresh()) : stored && stored.version === projection.version ? stored : fresh();
      let stamp = {
        cursor: record === stored ? record.cursor : null,
        pendingCursor: record === stored ? (record.pending?.cursor ?? null) : null,
      };
      progressOf.restart();
      /** What small batches (progress to report) folded past `record`, committed once SCAN_BATCH_EVENTS were looked at. */
      let uncommitted: ProjectionRecord | undefined;
      let scannedSinceCommit = 0;
      const processed = () => (uncommitted ?? record).applied + ((uncommitted ?? record).pending?.applied ?? 0);
      // A record storage would change is kept here unstored, and the fold goes on (see unstorableRecord).
      let unstored: UnserializableDataError | undefined;
      const commit = async (next: ProjectionRecord): Promise<boolean> => {
        unstored = unstorableRecord(next);
        if (!unstored) {
          if (superseded) local = next;
          else if (!(await storeRecord(connection, stamp, next))) return false;
          stamp = { cursor: next.cursor, pendingCursor: next.pending?.cursor ?? null };
        }
        record = next;
        return true;
      };
      /** Commits what the last small batches folded, if anything: false when another tab committed first. */
      const commitHeld = async (): Promise<boolean> => {
        const held = uncommitted;
        [uncommitted, scannedSinceCommit] = [undefined, 0];
        return held === undefined || (await commit(held));
      };
      if (record !== stored && record !== local) {
        // Folding from the start: refused over compacted history (the scan would throw the same, but
        // storing the empty record would then hold compaction back for nothing). Else the empty record
        // is stored first: a stored cursor holds compaction back, so no history is dropped under the scan.
        await refuseOverCompacted(connection, projection.name);
        if (!(await commit(record))) continue;
      }
      const finish = (): ProjectionSnapshot<unknown> => {
        const folded = record.pending?.cursor ?? null;
        if (folded && isAfter(folded, liveFrontier)) liveFrontier = folded;
        // A rebuild is a replay run; a catch-up counts once it applied something.
        const applied = eventsFolded - foldedBefore;
        if (options.rebuild) ctx.metrics.replayRun(ctx.metrics.now() - started, applied);
        else if (applied > 0) ctx.metrics.catchUp(ctx.metrics.now() - started, applied);
        if (options.onProgress) progressOf.report(processed());
        return snapshotOf(record, rebuilds);
      };
      // Stopped before an event this build cannot read, and no tab has moved the record since: nothing to fold.
      if (stoppedAt !== undefined && (record === stored || record === local) && sameCursor(record.cursor, stoppedAt)) return finish();

      // 1. Confirmed events, exactly once. Our own were folded already while pending: a replay; so were the
      // other clients' events the pending layer folded (importLog), known by id: kept on the record until met.
      const theirs = theirsAwaited(record);
      let lost = false;
      let blocked = false;
      // 'exact': a projection folded from compacted history would be a different state: HistoryCompactedError instead.
      for await (const batch of scanLog(
        connection,
        registry,
        { after: record.cursor, types, status: 'confirmed' },
        { history: 'exact', batchEvents },
      )) {
        if (options.signal?.aborted) throw new AbortedError(`Projection "${projection.name}"`);
        const { events, stop } = readableRun(batch.matches);
        blocked = stop;
        if (!stop || events.length > 0) {
          const base = uncommitted ?? record;
          const state = fold(
            base.state,
            events,
            ({ event, cursor }) =>
              event.meta.clientId === clientId || theirs.has(event.id) || !storedAfter(cursor, event.position, historyEnd),
          );
          const next = confirmedOver(base, events, { state, cursor: stop ? events.at(-1)!.cursor : batch.last }, theirs);
          uncommitted = next;
          if ((scannedSinceCommit += batch.scanned) >= SCAN_BATCH_EVENTS || stop) {
            [uncommitted, scannedSinceCommit] = [undefined, 0];
            if (!(await commit(next))) {
              lost = true;
              break;
            }
          }
        }
        progressOf.looked(batch.scanned, processed);
        if (stop) break;
      }
      lost ||= !(await commitHeld());
      if (lost) continue;
      if (unstored) throw unstored;
      stoppedAt = blocked ? record.cursor : undefined;
      if (blocked) return finish();

      // 2. Pending events on top: from where the pending layer stopped, or all again if it was dropped, or if
      // pending events were dropped or rewritten since it was folded (a rejection, a rebase: pendingRewrites),
      // or if an older version folded it (no `rewrites`: it may hold events rejected since; no `slots`: its
      // cursor's index counted the events of a rewritten page, not their slots).
      if (record.pending && (record.pending.rewrites !== pendingRewrites || record.pending.slots !== true)) {
        if (!(await commit(withTheirsFolded({ ...record, pending: null, updatedAt: Date.now() }, theirsAwaited(record))))) continue;
      }
      let layer: PendingLayer = record.pending ?? { state: record.state, cursor: null, applied: 0 };
      for await (const batch of scanLog(connection, registry, { after: layer.cursor, types, status: 'pending' }, { batchEvents })) {
        if (options.signal?.aborted) throw new AbortedError(`Projection "${projection.name}"`);
        const { events, stop } = readableRun(batch.matches);
        if (stop && events.length === 0) break;
        // Pending events beyond what this session folded before are live; a refold is a replay.
        const state = fold(
          layer.state,
          events,
          ({ cursor }) => !storedAfter(cursor, undefined, historyEnd) || !isAfter(cursor, liveFrontier),
        );
        layer = layerOver(layer, events, { state, cursor: stop ? events.at(-1)!.cursor : batch.last, rewrites: pendingRewrites }, clientId);
        uncommitted = { ...record, pending: layer, updatedAt: Date.now() };
        if ((scannedSinceCommit += batch.scanned) >= SCAN_BATCH_EVENTS || stop) {
          const next = uncommitted;
          [uncommitted, scannedSinceCommit] = [undefined, 0];
          if (!(await commit(next))) {
            lost = true;
            break;
          }
        }
        progressOf.looked(batch.scanned, processed);
        if (stop) break;
      }
      lost ||= !(await commitHeld());
      if (lost) continue;
      if (unstored) throw unstored;
      const trimmed = trimmedTheirs(record);
      if (trimmed && !(await commit(trimmed))) continue;
      return finish();
    }
    throw new Error(`Projection "${projection.name}" could not commit after 100 attempts`);
  };

  return {
    name: projection.name,
    catchUp: () => slot.shared(() => advance()),
    // From the reset to the last commit: catch-ups asked for meanwhile wait (see above).
    rebuild: (options = {}) =>
      slot.alone(async () => {
        if (options.signal?.aborted) throw new AbortedError(`Projection "${projection.name}"`);
        local = undefined;
        await resetRecord(connection, projection, fresh);
        rebuilds++;
        return advance({ ...options, rebuild: true });
      }),
  };
}

/** The state after `events`, each through its handler (an event of no handled type, or unreadable, passes). */
function foldEvents(
  handlers: ProjectionRuntime['handlers'],
  state: unknown,
  events: readonly PlacedEvent[],
  isReplay: (placed: PlacedEvent) => boolean,
): unknown {
  for (const placed of events) {
    const { event } = placed;
    const handler = event.known ? handlers[event.type] : undefined;
    if (handler) state = handler(state, event, { isReplay: isReplay(placed) });
  }
  return state;
}

/**
 * A rebuild's progress: reported once per PROGRESS_EVERY events looked at, and
 * at the end, as a replay job's. An attempt that starts again (another tab
 * committed first) counts again from its start; the count reported never goes
 * back.
 */
function progressReporter(onProgress: ((progress: ReplayProgress) => void) | undefined, total: number) {
  let scanned = 0;
  let reported = 0;
  let highest = 0;
  const report = (processed: number): void => {
    reported = scanned;
    highest = Math.max(highest, scanned);
    onProgress?.({ processed, scanned: highest, total: Math.max(total, highest) });
  };
  return {
    restart(): void {
      scanned = 0;
      reported = 0;
    },
    looked(count: number, processed: () => number): void {
      scanned += count;
      if (onProgress && scanned - reported >= PROGRESS_EVERY) report(processed());
    },
    report,
  };
}

/**
 * One run at a time: `shared(run)` starts `run` if nothing runs, else every
 * caller arriving meanwhile shares the one run that starts next (catch-ups);
 * `alone(run)` waits until nothing runs and takes the slot with no await in
 * between, so that whatever is asked for meanwhile waits for it (a rebuild).
 */
function oneAtATime<T>(): { shared(run: () => Promise<T>): Promise<T>; alone(run: () => Promise<T>): Promise<T> } {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const take = (run: () => Promise<T>): Promise<T> =>
    (running = run().finally(() => {
      running = undefined;
    }));
  const shared = (run: () => Promise<T>): Promise<T> => {
    if (!running) return take(run);
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return shared(run);
      });
    return queued;
  };
  return {
    shared,
    async alone(run) {
      while (running) await running.catch(() => undefined);
      return take(run);
    },
  };
}
