import type { ChronicleDB } from './db.ts';
import { indexBacklog } from './indexer.ts';

/** How long the engine must be quiet before it indexes pages a bulk ingest left unindexed. */
const INDEX_IDLE_MS = 300;
/** Pages indexed per transaction: a run holds the index store for ~0.1-0.2 s. */
const PAGES_PER_RUN = 50;

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
 * reads a user is waiting for right after a pull.
 */
export function createIdleIndexer(run: <T>(operation: string, fn: (db: ChronicleDB) => Promise<T>) => Promise<T>): IdleIndexer {
  let lastActivity = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const schedule = (delay = INDEX_IDLE_MS) => {
    if (timer || stopped) return;
    timer = setTimeout(async () => {
      timer = undefined;
      if (stopped) return;
      if (Date.now() - lastActivity < INDEX_IDLE_MS) return schedule();
      const started = Date.now();
      try {
        const left = await run('index', (db) => indexBacklog(db, PAGES_PER_RUN));
        // Still idle (nothing asked for meanwhile): go on at once rather than wait again.
        if (left > 0) schedule(lastActivity < started ? 0 : INDEX_IDLE_MS);
      } catch {
        schedule(); // e.g. the database closed under us: try again later
      }
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
