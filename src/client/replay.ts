import { AbortedError, ConfigError } from '../core/errors.ts';
import type { LogEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import type { JobRecord } from '../../worker/db.ts';
import type { EngineConnection } from './connection.ts';
import { readStream } from './aggregate-loader.ts';
import { scanLog } from './log-scan.ts';
import type { ReplayOptions, ReplayProgress, ReplayResult } from './types.ts';

/** A named job writes its checkpoint at most this often (events). */
const CHECKPOINT_EVERY = 1000;

function shapeOf(filter: ReplayOptions['filter']): string {
  const f = filter ?? {};
  return JSON.stringify({
    aggregateId: f.aggregateId ?? null,
    types: f.types ? [...f.types].sort() : null,
    fromTime: f.fromTime ?? null,
    toTime: f.toTime ?? null,
  });
}

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what);
}

/**
 * Runs events through a handler with isReplay: true. A named job checkpoints
 * (in IndexedDB) after the events it has handled, never past them, so a
 * crashed or closed tab resumes where it stopped; a finished job is recorded
 * as done and starts over when run again.
 */
export async function runReplay(
  connection: EngineConnection,
  registry: Registry,
  options: ReplayOptions<LogEvent>,
): Promise<ReplayResult> {
  if (typeof options.handler !== 'function') throw new ConfigError('replay needs a handler function');
  const what = options.name ? `Replay job "${options.name}"` : 'Replay';
  const filter = options.filter ?? {};
  const shape = shapeOf(filter);
  const { engine } = connection;

  let job: JobRecord | undefined = options.name && !options.restart ? await engine.getJob(options.name) : undefined;
  if (job && (job.shape !== shape || job.status === 'done')) job = undefined;
  const resumed = job !== undefined;
  const progress: ReplayProgress = { processed: job?.processed ?? 0, scanned: job?.scanned ?? 0, total: 0 };
  let cursor = job?.cursor ?? null;

  const save = async (status: JobRecord['status']) => {
    if (!options.name) return;
    await engine.putJob({
      name: options.name,
      shape,
      cursor,
      processed: progress.processed,
      scanned: progress.scanned,
      status,
      updatedAt: Date.now(),
    });
  };

  const stats = await engine.stats();
  checkAbort(options.signal, what);
  let sinceCheckpoint = 0;

  try {
  if (filter.aggregateId !== undefined) {
    // One aggregate: read its stream by seq; the checkpoint is the last seq handled.
    progress.total = await engine.streamHead(filter.aggregateId);
    const fromSeq = (cursor?.index ?? 0) + 1;
    const types = filter.types ? new Set(filter.types) : undefined;
    for await (const event of readStream(connection, registry, filter.aggregateId, { fromSeq })) {
      checkAbort(options.signal, what);
      progress.scanned++;
      const t = event.meta.occurredAt;
      const inTime = (filter.fromTime === undefined || t >= filter.fromTime) && (filter.toTime === undefined || t <= filter.toTime);
      if (inTime && (!types || types.has(event.type))) {
        const placed = { area: -1, page: -1, index: event.seq };
        await options.handler(event, { isReplay: true, cursor: placed });
        progress.processed++;
      }
      cursor = { area: -1, page: -1, index: event.seq };
      if (++sinceCheckpoint >= CHECKPOINT_EVERY) {
        sinceCheckpoint = 0;
        await save('running');
        options.onProgress?.({ ...progress });
      }
    }
  } else {
    progress.total = stats.pendingEvents + stats.confirmedEvents;
    for await (const batch of scanLog(connection, registry, {
      after: cursor,
      types: filter.types,
      fromTime: filter.fromTime,
      toTime: filter.toTime,
    })) {
      for (const { event, cursor: at } of batch.matches) {
        checkAbort(options.signal, what);
        const pending = options.handler(event, { isReplay: true, cursor: at });
        // Only a handler that returned a promise is awaited: 100k awaits of nothing add up.
        if (pending && typeof (pending as Promise<void>).then === 'function') await pending;
        progress.processed++;
        cursor = at;
      }
      // Everything scanned in the batch is handled (or filtered out): safe to move past it.
      cursor = batch.last;
      progress.scanned += batch.scanned;
      progress.total = Math.max(progress.total, progress.scanned);
      sinceCheckpoint += batch.scanned;
      if (sinceCheckpoint >= CHECKPOINT_EVERY) {
        sinceCheckpoint = 0;
        await save('running');
      }
      options.onProgress?.({ ...progress });
      checkAbort(options.signal, what);
    }
  }
  } catch (error) {
    // Aborted or a handler threw: keep what was handled, so a rerun resumes right after it.
    await save('running').catch(() => undefined);
    throw error;
  }
  progress.total = Math.max(progress.total, progress.scanned);
  await save('done');
  options.onProgress?.({ ...progress });
  return { ...progress, resumed };
}
