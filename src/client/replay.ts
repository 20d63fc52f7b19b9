import type { LogCursor } from '../core/cursor.ts';
import { AbortedError, ConfigError } from '../core/errors.ts';
import type { LogEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import type { JobRecord } from '../../worker/contract.ts';
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
const PROGRESS_EVERY = 1000;

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
  const progress: ReplayProgress = { processed: job?.processed ?? 0, scanned: job?.scanned ?? 0, total: 0 };
  let cursor: LogCursor | null = job?.cursor ?? null;
  // After a crash, the events handled since the last periodic checkpoint come again: flag them.
  let toFlag = job && job.clean !== true ? (job.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY) : 0;

  const save = async (status: JobRecord['status'], clean: boolean) => {
    if (!options.name) return;
    await engine.putJob({
      name: options.name,
      shape,
      cursor,
      processed: progress.processed,
      scanned: progress.scanned,
      status,
      clean,
      checkpointEvery: every,
      updatedAt: Date.now(),
    });
  };
  let handledSinceSave = 0;
  let scannedSinceSave = 0;
  /** Call after each handled event, once `cursor` and `progress` include it. */
  const handled = async () => {
    progress.processed++;
    if (toFlag > 0) toFlag--;
    if (++handledSinceSave >= every) {
      handledSinceSave = 0;
      scannedSinceSave = 0;
      await save('running', false);
    }
  };
  const deliver = (event: LogEvent, at: LogCursor): void | Promise<void> => {
    const context: ReplayContext = { isReplay: true, cursor: at, redelivery: toFlag > 0 };
    return options.handler(event, context);
  };

  const stats = await engine.stats();
  checkStop();
  // Recorded before the first event: a crash before the first periodic checkpoint is then known as one.
  if (!resumed) await save('running', false);
  try {
    if (filter.aggregateId !== undefined) {
      // One aggregate: read its stream by seq; the checkpoint is the last seq looked at.
      progress.total = await engine.streamHead(filter.aggregateId);
      const types = filter.types ? new Set(filter.types) : undefined;
      // A fresh job reads the stream as kept (from its first event stored); a resumed one from exactly its checkpoint.
      // An event of another type whose upcast fails is looked at, not handed over: it fails nothing here.
      const from = cursor ? { fromSeq: cursor.index + 1 } : {};
      for await (const event of readStream(connection, registry, filter.aggregateId, { ...from, upcastFailures: 'unreadable' })) {
        checkStop();
        const t = event.meta.occurredAt;
        const inTime = (filter.fromTime === undefined || t >= filter.fromTime) && (filter.toTime === undefined || t <= filter.toTime);
        const at = { area: -1, page: -1, index: event.seq };
        const wanted = inTime && (!types || types.has(event.type));
        if (wanted) {
          requireReadable(registry, event);
          await deliver(event, at);
        }
        cursor = at;
        progress.scanned++;
        progress.total = Math.max(progress.total, progress.scanned);
        if (wanted) await handled();
        else if (++scannedSinceSave >= SCANNED_CHECKPOINT_EVERY) {
          scannedSinceSave = 0;
          await save('running', false);
        }
        if (progress.scanned % 1000 === 0) options.onProgress?.({ ...progress });
      }
    } else {
      progress.total = stats.pendingEvents + stats.confirmedEvents;
      let reported = progress.scanned;
      // Page by page: the events of one page are decoded at a time, handled and let go
      // (the engine is still read ahead, a few thousand events at a time).
      for await (const batch of scanLog(
        connection,
        registry,
        { after: cursor, types: filter.types, fromTime: filter.fromTime, toTime: filter.toTime },
        // A replay starts at the start of local history; the result says where that was.
        { batchEvents: 1, history: 'kept' },
      )) {
        const base = progress.scanned;
        for (let i = 0; i < batch.matches.length; i++) {
          const { event, cursor: at } = batch.matches[i]!;
          checkStop();
          const pending = deliver(event, at);
          // Only a handler that returned a promise is awaited: 100k awaits of nothing add up.
          if (pending && typeof (pending as Promise<void>).then === 'function') await pending;
          cursor = at;
          progress.scanned = base + batch.offsets[i]!;
          await handled();
        }
        // Everything scanned in the batch is handled (or filtered out): safe to move past it.
        cursor = batch.last;
        progress.scanned = base + batch.scanned;
        progress.total = Math.max(progress.total, progress.scanned);
        scannedSinceSave += batch.scanned;
        if (scannedSinceSave >= SCANNED_CHECKPOINT_EVERY) {
          scannedSinceSave = 0;
          await save('running', false);
        }
        if (progress.scanned - reported >= PROGRESS_EVERY) {
          reported = progress.scanned;
          options.onProgress?.({ ...progress });
        }
        checkStop();
      }
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
