import { InUseError } from '../core/errors.ts';
import type { LogEvent } from '../core/event.ts';
import { checkAggregateId } from './append.ts';
import { checkDefinition, checkJobOptions, checkOptionsObject } from './argument-checks.ts';
import { loadAggregate, readStream } from './aggregate-loader.ts';
import type { StoreContext } from './context.ts';
import type { JobTracker } from './closing.ts';
import { ifNotHeld, jobLockName } from './exclusive.ts';
import { scanLog } from './log-scan.ts';
import { checkLogFilter, checkReplayFilter, checkScanOptions, checkStreamOptions } from './read-options.ts';
import { runReplay } from './replay.ts';
import type { Store, StoreEvent } from './store-api.ts';
import type { LoadResult, LogEntry, ReplayOptions } from './types.ts';

/** The store's reads: aggregates (as of the time-travel horizon), streams, the log and replay jobs. */
export function createReader(
  ctx: StoreContext,
  jobs: Pick<JobTracker, 'track' | 'isRunning'>,
): Pick<Store, 'load' | 'snapshot' | 'readStream' | 'readLog' | 'scan' | 'replay'> {
  const { connection, registry, travel } = ctx;
  return {
    async load(aggregate, aggregateId) {
      checkDefinition(aggregate, 'aggregate');
      checkAggregateId(aggregateId);
      const horizon = travel.horizon();
      return (await loadAggregate(connection, registry, aggregate, aggregateId, horizon ? { until: horizon } : {})) as LoadResult<never>;
    },
    async snapshot(aggregate, aggregateId) {
      checkDefinition(aggregate, 'aggregate');
      checkAggregateId(aggregateId);
      let stored: number | undefined;
      const loaded = await loadAggregate(connection, registry, aggregate, aggregateId, {
        forceSnapshot: true,
        onSnapshot: (seq) => (stored = seq),
      });
      // None stored (the stream holds a newer app's event this one cannot read, or nothing changed): the one it has.
      return stored ?? loaded.snapshotVersion;
    },
    readStream(aggregateId, streamOptions) {
      checkAggregateId(aggregateId);
      checkStreamOptions(streamOptions);
      // null is no options, as the check took it (a default parameter below would not apply to it).
      return readStream(connection, registry, aggregateId, streamOptions ?? undefined) as AsyncIterable<StoreEvent<unknown>>;
    },
    async *readLog(filter) {
      checkLogFilter(filter);
      for await (const batch of scanLog(connection, registry, filter ?? undefined)) {
        for (const { event } of batch.matches) yield event as StoreEvent<unknown>;
      }
    },
    async *scan(filter, scanOptions) {
      checkLogFilter(filter);
      checkScanOptions(scanOptions);
      const batches = scanLog(connection, registry, filter ?? undefined, {
        keepStored: true,
        batchEvents: scanOptions?.batchEvents,
        upcastFailures: scanOptions?.upcastFailures ?? 'throw',
      });
      for await (const batch of batches) yield batch.matches as LogEntry<StoreEvent<unknown>>[];
    },
    async replay(replayOptions) {
      checkOptionsObject(replayOptions, 'options');
      checkReplayFilter(replayOptions.filter);
      checkJobOptions(replayOptions, 'replay');
      const name = typeof replayOptions?.name === 'string' ? replayOptions.name : undefined;
      const run = (closing: AbortSignal) => runReplay(connection, registry, replayOptions as ReplayOptions<LogEvent>, closing);
      if (name === undefined) return jobs.track(run);
      // One run of a named job at a time, in this store and in all tabs (Web Locks; in Node, the stores of this
      // process): two would each hand every event over, and race on its checkpoint.
      const busy = (): never => {
        throw new InUseError('job', name, jobs.isRunning(name) ? 'this-store' : 'another-tab', 'run');
      };
      if (jobs.isRunning(name)) busy();
      return ifNotHeld(jobLockName(ctx.name, name), () => jobs.track(run, name), busy);
    },
  };
}
