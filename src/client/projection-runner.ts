import { projectionRuntime, type AnyProjectionDefinition } from '../core/projection.ts';
import type { Registry } from '../core/registry.ts';
import type { ProjectionRecord } from '../../worker/db.ts';
import type { EngineConnection } from './connection.ts';
import { scanLog } from './log-scan.ts';
import type { ProjectionSnapshot, ReplayProgress } from './types.ts';
import { AbortedError } from '../core/errors.ts';

export interface ProjectionRunner {
  readonly name: string;
  /** Applies every event after the stored cursor; resolves with the state afterwards. */
  catchUp(): Promise<ProjectionSnapshot<unknown>>;
  rebuild(options?: { onProgress?(p: ReplayProgress): void; signal?: AbortSignal }): Promise<ProjectionSnapshot<unknown>>;
  /** The state last committed or read, without touching storage. */
  current(): ProjectionSnapshot<unknown> | undefined;
}

/**
 * Keeps one projection up to date. Each batch of events is folded into the
 * state and then committed together with the cursor of the last event folded,
 * as a compare-and-set on the previous cursor: if another tab committed first,
 * this batch is thrown away and the stored state reloaded, so every event is
 * applied exactly once to the stored state.
 */
export function createProjectionRunner(
  connection: EngineConnection,
  registry: Registry,
  definition: AnyProjectionDefinition,
): ProjectionRunner {
  const projection = projectionRuntime(definition);
  const types = Object.keys(projection.handlers).filter((t) => typeof projection.handlers[t] === 'function');
  let latest: ProjectionSnapshot<unknown> | undefined;
  let running: Promise<ProjectionSnapshot<unknown>> | undefined;
  let caughtUpOnce = false;

  const fresh = (): ProjectionRecord => ({
    name: projection.name,
    version: projection.version,
    state: projection.initialState(),
    cursor: null,
    applied: 0,
    updatedAt: Date.now(),
  });

  const advance = async (
    options: { rebuild?: boolean; onProgress?(p: ReplayProgress): void; signal?: AbortSignal } = {},
  ): Promise<ProjectionSnapshot<unknown>> => {
    const { engine } = connection;
    let total = 0;
    if (options.onProgress) {
      const stats = await engine.stats();
      total = stats.pendingEvents + stats.confirmedEvents;
    }
    for (let attempt = 0; ; attempt++) {
      const stored = await engine.getProjection(projection.name);
      // A record of another handler version is stale: start from scratch over it.
      const current = stored && stored.version === projection.version ? stored : undefined;
      let record = current ?? fresh();
      let expected = current ? current.cursor : null;
      // Events before the first catch-up of this session are history: handlers see isReplay.
      const isReplay = options.rebuild === true || !caughtUpOnce || record.cursor === null;
      let lost = false;
      let scanned = 0;
      for await (const batch of scanLog(connection, registry, { after: record.cursor, types })) {
        if (options.signal?.aborted) throw new AbortedError(`Rebuilding projection "${projection.name}"`);
        let state = record.state;
        for (const { event } of batch.matches) {
          const handler = event.known ? projection.handlers[event.type] : undefined;
          if (handler) state = handler(state, event, { isReplay });
        }
        const next: ProjectionRecord = {
          name: projection.name,
          version: projection.version,
          state,
          cursor: batch.last,
          applied: record.applied + batch.matches.length,
          updatedAt: Date.now(),
        };
        if (!(await engine.commitProjection(expected, next))) {
          lost = true; // another tab moved it: reload and continue from its state
          break;
        }
        record = next;
        expected = next.cursor;
        scanned += batch.scanned;
        options.onProgress?.({ processed: record.applied, scanned, total: Math.max(total, scanned) });
      }
      if (lost && attempt < 100) continue;
      caughtUpOnce = true;
      latest = { state: record.state, cursor: record.cursor, applied: record.applied };
      return latest;
    }
  };

  // One advance at a time per runner; callers arriving meanwhile share the next one.
  let queued: Promise<ProjectionSnapshot<unknown>> | undefined;
  const catchUp = (): Promise<ProjectionSnapshot<unknown>> => {
    if (!running) {
      running = advance().finally(() => {
        running = undefined;
      });
      return running;
    }
    if (!queued) {
      queued = running.catch(() => undefined).then(() => {
        queued = undefined;
        return catchUp();
      });
    }
    return queued;
  };

  return {
    name: projection.name,
    catchUp,
    async rebuild(options = {}) {
      while (running) await running.catch(() => undefined);
      await connection.engine.deleteProjection(projection.name);
      running = advance({ ...options, rebuild: true }).finally(() => {
        running = undefined;
      });
      return running;
    },
    current: () => latest,
  };
}
