import { AbortedError, StoreClosedError } from '../core/errors.ts';
import type { Compactor } from './compaction.ts';
import type { StoreContext } from './context.ts';
import { ifNotHeld } from './exclusive.ts';

/** Quiet time after the last append or sync before background compaction runs. */
export const COMPACT_IDLE_MS = 2000;

/**
 * Runs compaction in the background when a store has a retention policy:
 * once after opening and again whenever the log has been quiet for
 * COMPACT_IDLE_MS after appends or a sync. One tab at a time (a Web Lock per
 * store, where the platform has Web Locks, else one store per name in this
 * process: others skip, they do not queue);
 * each step is one short transaction of a few pages, and the loop yields
 * between steps (src/client/compaction.ts).
 */
export function scheduleCompaction(ctx: StoreContext, compactor: Compactor, idleMs = COMPACT_IDLE_MS): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let warned = false;

  const once = async () => {
    const work = async () => void (await compactor.compact({ measure: false, signal: stopping.signal }));
    // Another tab (or store of this process) compacting the same database: skip, not an error.
    await ifNotHeld(`chronicle-compact:${ctx.name}`, work, () => undefined);
  };
  const run = () => {
    timer = undefined;
    if (stopping.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = once()
      .catch((error: unknown) => {
        if (error instanceof AbortedError || error instanceof StoreClosedError || stopping.signal.aborted) return;
        if (!warned) {
          warned = true;
          console.warn(`chronicle: background compaction failed (${String(error)}); retrying later`);
        }
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          arm();
        }
      });
  };
  const arm = () => {
    if (stopping.signal.aborted) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, idleMs);
  };
  const unwatch = ctx.hub.watch((change) => {
    if (change.kind === 'appended' || change.kind === 'confirmed' || change.kind === 'projection' || change.kind === 'reactions') arm();
  });
  arm();
  return {
    async stop() {
      stopping.abort();
      unwatch();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
