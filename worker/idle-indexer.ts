/** How long the engine must be quiet before it indexes what was left unindexed. */
export const INDEX_IDLE_MS = 300;
/**
 * Work that has waited this long gets one bounded step even while the engine
 * is busy: an app that reads or writes without pause would otherwise never
 * let it run, and readers would keep paying for what waits.
 */
export const INDEX_MAX_WAIT_MS = 2_000;

export interface IdleIndexer {
  /** Index soon, once the engine has been idle a while. */
  schedule(): void;
  /** Something ran: indexing waits for the next quiet moment. */
  busy(): void;
  stop(): void;
}

/**
 * A bulk ingest (a sync pull) stores pages first and their index records
 * later, when no reader is waiting: writing them at once would hold up the
 * reads a user is waiting for right after a pull. A large appendBatch leaves
 * its stream entries for later in the same way. `step` indexes a bounded
 * part of what waits and says how much is left.
 */
export function createIdleIndexer(step: () => Promise<number>): IdleIndexer {
  let lastActivity = Date.now();
  /** Since when work has waited for a step (undefined: none waits). */
  let waitingSince: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** A step is under way; `again`: work was announced meanwhile, so another is scheduled after it. */
  let running = false;
  let again = false;
  const schedule = (delay = INDEX_IDLE_MS) => {
    if (stopped) return;
    waitingSince ??= Date.now();
    // One step at a time: the next is decided when this one ends.
    if (running) {
      again = true;
      return;
    }
    if (timer) return;
    timer = setTimeout(async () => {
      timer = undefined;
      if (stopped) return;
      const started = Date.now();
      const starved = started - (waitingSince ?? started) >= INDEX_MAX_WAIT_MS;
      if (!starved && started - lastActivity < INDEX_IDLE_MS) return schedule();
      running = true;
      again = false;
      let left: number;
      try {
        left = await step();
      } catch {
        running = false;
        return schedule(); // e.g. the database closed under us: try again later
      }
      running = false;
      waitingSince = left > 0 ? (starved ? Date.now() : waitingSince) : undefined;
      // Still idle (nothing asked for meanwhile): go on at once rather than wait again.
      if (left > 0) schedule(lastActivity < started ? 0 : INDEX_IDLE_MS);
      else if (again) schedule();
    }, delay);
  };
  return {
    schedule,
    busy() {
      lastActivity = Date.now();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
