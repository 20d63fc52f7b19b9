import type { LogCursor } from '../core/cursor.ts';
import { AbortedError, ConfigError } from '../core/errors.ts';
import type { LogEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import { CONFIRMED, type JobRecord } from '../../worker/contract.ts';
import type { EngineConnection } from './connection.ts';
import { readStream } from './aggregate-loader.ts';
import { requireReadable } from './log-events.ts';
import { scanLog } from './log-scan.ts';
import type { ReplayContext, ReplayOptions, ReplayProgress, ReplayResult } from './types.ts';

/** A named job saves its checkpoint after this many handled events, unless told otherwise. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** Events scanned (matching or not) between two checkpoints of a filtered job, so a rerun skips what it looked at. */
const SCANNED_CHECKPOINT_EVERY = 50_000;

/** Events scanned between two progress reports (and one at the end). */
export const PROGRESS_EVERY = 1000;

function shapeOf(filter: ReplayOptions['filter']): string {
  const f = filter ?? {};
  return JSON.stringify({
    aggregateId: f.aggregateId ?? null,
    types: f.types ? [...f.types].sort() : null,
    fromTime: f.fromTime ?? null,
    toTime: f.toTime ?? null,
  });
}

function checkpointEveryOf(options: ReplayOptions<LogEvent>): number {
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isInteger(every) || every < 1)
    throw new ConfigError('replay checkpointEvery must be a positive integer', { checkpointEvery: every });
  return every;
}

/**
 * A checkpoint of an older version (no `handledPending`) at a place that may
 * have been a pending event's: a pending place in the log, or a seq of a
 * one-aggregate job. A sync since may have confirmed or rebased the events it
 * covered, moving them behind it or to other seqs.
 */
function placeMayHaveMoved(job: JobRecord): boolean {
  return job.handledPending === undefined && job.cursor !== null && job.cursor.area !== CONFIRMED;
}

/** Passes over the log a run makes at most: more only while sync keeps moving events it has looked at. */
const MAX_PASSES = 8;

/**
 * Runs events through a handler with isReplay: true.
 *
 * A named job keeps a checkpoint in IndexedDB that never points past an event
 * it has not handled:
 * - every `checkpointEvery` handled events (a periodic checkpoint: a crash
 *   delivers at most that many again, flagged `redelivery`);
 * - on a clean stop (its signal, the store closing, a handler error), at
 *   exactly the last event handled, so a rerun handles each event once.
 * A finished job is recorded as done and starts over when run again.
 *
 * Pending events are not stable places: a sync confirms them (they move to
 * the confirmed area, behind any place in the pending one), a rebase gives
 * them other seqs, a refusal renumbers the rest. So the checkpoint's place
 * only ever moves through confirmed events, and the pending events handled
 * past it are kept by id (`handledPending`): a later pass, or a rerun, meets
 * them again, confirmed or still pending, and skips them. A pass ends where
 * the log ends; while the sync confirmed events ahead of a pass (they moved
 * behind it unseen), the run makes another, up to MAX_PASSES.
 *
 * @param closing aborted when the store closes: the job stops like an abort.
 */
export async function runReplay(
  connection: EngineConnection,
  registry: Registry,
  options: ReplayOptions<LogEvent>,
  closing?: AbortSignal,
): Promise<ReplayResult> {
  if (typeof options.handler !== 'function') throw new ConfigError('replay needs a handler function');
  const every = checkpointEveryOf(options);
  const what = options.name ? `Replay job "${options.name}"` : 'Replay';
  const filter = options.filter ?? {};
  const shape = shapeOf(filter);
  const { engine } = connection;
  const stopped = () => options.signal?.aborted === true || closing?.aborted === true;
  const checkStop = () => {
    if (stopped()) throw new AbortedError(what);
  };

  let job: JobRecord | undefined = options.name && !options.restart ? await engine.getJob(options.name) : undefined;
  if (job && (job.shape !== shape || job.status === 'done')) job = undefined;
  const resumed = job !== undefined;
  /** The record as this run found it (job below may start it over). */
  const found = job;
  // After a crash, the events handled since the last periodic checkpoint come again: flag them.
  let toFlag = job && job.clean !== true ? (job.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY) : 0;
  if (job && placeMayHaveMoved(job)) {
    // Which events its place covered cannot be told any more: start over, flagging as many as it had
    // handled. Repeats come flagged; none is skipped.
    toFlag += job.processed;
    job = { ...job, cursor: null, processed: 0, scanned: 0 };
  }
  const progress: ReplayProgress = { processed: job?.processed ?? 0, scanned: job?.scanned ?? 0, total: 0 };
  /** The last confirmed place passed. */
  let cursor: LogCursor | null = job?.cursor ?? null;
  /** Pending events handled past `cursor`, by id: skipped where met again, forgotten once `cursor` passes them confirmed. */
  const handledPending = new Set(job?.handledPending ?? []);
  /** Events looked at up to `cursor`: where `progress.scanned` starts again when a pass or a rerun starts there. */
  let scannedAtCursor = progress.scanned;

  const save = async (status: JobRecord['status'], stoppedCleanly: boolean) => {
    if (!options.name) return;
    // How many events a run resuming from this record may see again: none after a clean stop (the checkpoint is
    // the last event handled), else up to this run's interval; and either way the ones an earlier crash left
    // unrecorded that this run has not passed yet (toFlag), which it must not forget by saving over them.
    const mayRepeat = status === 'done' ? 0 : stoppedCleanly ? toFlag : Math.max(every, toFlag);
    await engine.putJob({
      name: options.name,
      shape,
      cursor,
      handledPending: status === 'done' ? [] : [...handledPending],
      processed: progress.processed,
      scanned: scannedAtCursor,
      status,
      clean: mayRepeat === 0,
      checkpointEvery: mayRepeat === 0 ? every : mayRepeat,
      updatedAt: Date.now(),
    });
  };
  let handledSinceSave = 0;
  let scannedSinceSave = 0;
  // The steps below run once per event of a replay of the whole log: they return a promise only when there is
  // something to wait for (a handler that returned one, a checkpoint to save), since 100k awaits of nothing add up.
  /** After each event handled, or looked at one by one, once `cursor`, `handledPending` and `progress.scanned` include it. */
  const looked = (wasHandled: boolean): void | Promise<void> => {
    if (!wasHandled) return scannedPast(1);
    progress.processed++;
    if (toFlag > 0) toFlag--;
    if (++handledSinceSave < every) return;
    handledSinceSave = 0;
    scannedSinceSave = 0;
    return save('running', false);
  };
  const scannedPast = (count: number): void | Promise<void> => {
    scannedSinceSave += count;
    if (scannedSinceSave < SCANNED_CHECKPOINT_EVERY) return;
    scannedSinceSave = 0;
    return save('running', false);
  };
  /**
   * One event met by a pass: handed over unless it was handled while pending. `confirmedAt`: its place
   * when it is confirmed (the checkpoint may move there), undefined while it is pending. Returns whether
   * it was handed over.
   */
  const meet = (event: LogEvent, at: LogCursor, wanted: boolean, confirmedAt: LogCursor | undefined): boolean | Promise<boolean> => {
    const handle = wanted && (handledPending.size === 0 || !handledPending.has(event.id));
    let running: unknown;
    if (handle) {
      requireReadable(registry, event);
      running = options.handler(event, { isReplay: true, cursor: at, redelivery: toFlag > 0 } satisfies ReplayContext);
    }
    const met = (): boolean => {
      if (confirmedAt) {
        passTo(confirmedAt);
        if (handledPending.size > 0) handledPending.delete(event.id);
      } else if (handle) handledPending.add(event.id);
      return handle;
    };
    // A handler's result is only waited for: a promise, or any thenable (Promise.resolve adopts one whose then()
    // returns nothing, and returns a native promise as it is); any other value is ignored.
    return running && typeof (running as PromiseLike<unknown>).then === 'function'
      ? Promise.resolve(running as PromiseLike<unknown>).then(met)
      : met();
  };

  const passTo = (at: LogCursor) => {
    cursor = at;
    scannedAtCursor = progress.scanned;
  };

  const stats = await engine.stats();
  checkStop();
  // Recorded before the first event: a crash before the first periodic checkpoint is then known as one. A
  // resumed job is marked too, and only that: its place and counts stay as they were (a record from an
  // older version that this run starts over keeps what tells the next run so), and it says how many
  // events a crash may have handled unrecorded: this run's checkpointEvery when that is the larger.
  if (!resumed) await save('running', false);
  else if (found) {
    const mayRepeat = Math.max(found.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY, every);
    await engine.putJob({ ...found, clean: false, checkpointEvery: mayRepeat, updatedAt: Date.now() });
  }
  const pass = filter.aggregateId !== undefined ? streamPass : logPass;
  const ctx: PassContext = {
    ...{ connection, registry, filter, progress, checkStop, meet, looked, scannedPast },
    passTo,
    cursorNow: () => cursor,
  };
  try {
    progress.total =
      filter.aggregateId !== undefined ? await engine.streamHead(filter.aggregateId) : stats.pendingEvents + stats.confirmedEvents;
    for (let passes = 1; ; passes++) {
      const before = await engine.logEnd();
      // What lies past the checkpoint is looked at again (skipping what was handled): counted once.
      progress.scanned = scannedAtCursor;
      const sawPending = await pass(ctx, options.onProgress);
      // Events the sync confirmed during the pass, ahead of it, moved behind it unseen: look again.
      if (!sawPending || passes >= MAX_PASSES || (await engine.logEnd()).confirmedHead === before.confirmedHead) break;
    }
  } catch (error) {
    // Stopped or a handler threw: the checkpoint is the last event handled, so a rerun resumes right after it.
    await save('running', true).catch(() => undefined);
    throw error;
  }
  progress.total = Math.max(progress.total, progress.scanned);
  await save('done', true);
  options.onProgress?.({ ...progress });
  return { ...progress, resumed, historyStartsAt: stats.historyStartsAt };
}

/** What a pass works with: the run's state and steps (runReplay). */
interface PassContext {
  connection: EngineConnection;
  registry: Registry;
  filter: NonNullable<ReplayOptions['filter']>;
  progress: ReplayProgress;
  checkStop(): void;
  meet(event: LogEvent, at: LogCursor, wanted: boolean, confirmedAt: LogCursor | undefined): boolean | Promise<boolean>;
  looked(wasHandled: boolean): void | Promise<void>;
  /** Events looked at in bulk (a batch, matching or not): a filtered job that handles few still checkpoints. */
  scannedPast(count: number): void | Promise<void>;
  /** Moves the checkpoint to a confirmed place everything up to which was looked at. */
  passTo(at: LogCursor): void;
  cursorNow(): LogCursor | null;
}

/**
 * One aggregate: its stream by seq, from the seq after the checkpoint's (the
 * last confirmed seq looked at). An event of another type whose upcast fails
 * is looked at, not handed over: it fails nothing here. True when the pass
 * met pending events.
 */
async function streamPass(ctx: PassContext, onProgress: ReplayOptions['onProgress']): Promise<boolean> {
  const { filter, progress } = ctx;
  const types = filter.types ? new Set(filter.types) : undefined;
  const cursor = ctx.cursorNow();
  // A fresh job reads the stream as kept (from its first event stored); a resumed one from its checkpoint.
  const from = cursor ? { fromSeq: cursor.index + 1 } : {};
  let sawPending = false;
  for await (const event of readStream(ctx.connection, ctx.registry, filter.aggregateId!, { ...from, upcastFailures: 'unreadable' })) {
    ctx.checkStop();
    const t = event.meta.occurredAt;
    const inTime = (filter.fromTime === undefined || t >= filter.fromTime) && (filter.toTime === undefined || t <= filter.toTime);
    const at = { area: -1, page: -1, index: event.seq };
    const confirmed = event.position !== undefined;
    sawPending ||= !confirmed;
    progress.scanned++;
    const handled = await ctx.meet(event, at, inTime && (!types || types.has(event.type)), confirmed ? at : undefined);
    progress.total = Math.max(progress.total, progress.scanned);
    await ctx.looked(handled);
    if (progress.scanned % 1000 === 0) onProgress?.({ ...progress });
  }
  return sawPending;
}

/**
 * The whole log (or the events a type or time filter picks), page by page
 * from after the checkpoint: the events of one page are decoded at a time,
 * handled and let go (the engine is still read ahead, a few thousand events
 * at a time). True when the pass reached pending events.
 */
async function logPass(ctx: PassContext, onProgress: ReplayOptions['onProgress']): Promise<boolean> {
  const { filter, progress } = ctx;
  let reported = progress.scanned;
  let sawPending = false;
  for await (const batch of scanLog(
    ctx.connection,
    ctx.registry,
    { after: ctx.cursorNow(), types: filter.types, fromTime: filter.fromTime, toTime: filter.toTime },
    // A replay starts at the start of local history; the result says where that was.
    { batchEvents: 1, history: 'kept' },
  )) {
    const confirmed = batch.last.area === CONFIRMED;
    sawPending ||= !confirmed;
    const base = progress.scanned;
    for (let i = 0; i < batch.matches.length; i++) {
      const { event, cursor: at } = batch.matches[i]!;
      ctx.checkStop();
      progress.scanned = base + batch.offsets[i]!;
      let handled = ctx.meet(event, at, true, confirmed ? at : undefined);
      if (typeof handled !== 'boolean') handled = await handled;
      // One skipped (handled while pending) counts among the batch's scanned events below.
      if (handled) {
        const saving = ctx.looked(true);
        if (saving) await saving;
      }
    }
    progress.scanned = base + batch.scanned;
    // Everything scanned in the batch is handled (or filtered out): a confirmed batch's end is safe to move to.
    if (confirmed) ctx.passTo(batch.last);
    const saving = ctx.scannedPast(batch.scanned);
    if (saving) await saving;
    progress.total = Math.max(progress.total, progress.scanned);
    if (progress.scanned - reported >= PROGRESS_EVERY) {
      reported = progress.scanned;
      onProgress?.({ ...progress });
    }
    ctx.checkStop();
  }
  return sawPending;
}
