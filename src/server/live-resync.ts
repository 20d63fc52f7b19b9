import type { Logger } from './logger.ts';

/**
 * Head re-reads in flight at once after a resync. They share the store's pool
 * with pushes and pulls: all of a process's followed logs read at once (2,500
 * of them on a pool of 2) wait out the pool's bound and fail in bulk, and
 * starve the requests meanwhile. A head read takes a millisecond or two, so a
 * few at a time get through thousands of logs in seconds.
 */
export const RESYNC_READS_IN_FLIGHT = 4;

/** Backoff between passes over the logs whose re-read failed: from about this... */
const RETRY_FIRST_MS = 250;
/** ...doubling up to about this (each delay jittered to 50-100 %). */
const RETRY_MAX_MS = 30_000;

export interface HeadResync {
  /** The store may have missed head moves (its LISTEN connection came back): re-read every followed log's head. */
  request(): void;
  close(): void;
}

/**
 * After a resync the live hub must learn every followed log's head again:
 * head moves made through other processes while the LISTEN connection was
 * away were never announced, and a head re-read is the only way to hear of
 * them. A re-read that fails (a table locked for a moment, a pool with no
 * free connection within its bound) is tried again with backoff, until it
 * succeeds or no socket follows the log any more: dropping it would leave the
 * log's open sockets at the old head until its next push, which may never
 * come. One warning per pass that had failures, not one per log.
 */
export function createHeadResync(options: {
  /** The logs followed now. */
  followed: () => Iterable<string>;
  /** Whether a socket still follows the log (once none does, a failed re-read is not retried). */
  isFollowed: (log: string) => boolean;
  readHead: (log: string) => Promise<number>;
  /** Announces a head read (publish ignores one that is not above what a socket was sent). */
  publish: (log: string, head: number) => void;
  logger: Logger;
}): HeadResync {
  const { logger } = options;
  /** Logs waiting for their re-read in this pass. */
  const due = new Set<string>();
  /** Logs whose re-read failed in this pass, with the first failure's message. */
  const failed = new Map<string, string>();
  let reading = 0;
  /** Re-reads started in this pass (for the summary line). */
  let started = 0;
  /** Passes in a row that ended with failures: sets the backoff. */
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** A pass runs: it ends (passDone) once its last read settled. */
  let passOpen = false;
  let closed = false;

  const readOne = async (log: string): Promise<void> => {
    try {
      options.publish(log, await options.readHead(log));
    } catch (error) {
      failed.set(log, error instanceof Error ? error.message : String(error));
    }
  };

  /** The pass's reads are all done: report failures and schedule their retry, or end the retries. */
  const passDone = (): void => {
    passOpen = false;
    const of = started;
    started = 0;
    if (failed.size === 0) {
      if (attempt > 0) logger.info('live: every followed head was re-read after the resync', { passes: attempt + 1 });
      attempt = 0;
      return;
    }
    const retryInMs = Math.round(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2));
    attempt++;
    const retry = [...failed.keys()];
    logger.warn('live: could not re-read some heads after a resync; their sockets hear of moves once a retry succeeds', {
      failed: retry.length,
      of,
      pass: attempt,
      retryInMs,
      error: failed.values().next().value,
    });
    failed.clear();
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      for (const log of retry) due.add(log);
      passOpen = true;
      pump();
    }, retryInMs);
    retryTimer.unref();
  };

  const pump = (): void => {
    for (const log of due) {
      if (closed || reading >= RESYNC_READS_IN_FLIGHT) return;
      due.delete(log);
      // Nobody to tell any more: neither read nor retried.
      if (!options.isFollowed(log)) continue;
      reading++;
      started++;
      void readOne(log).then(() => {
        reading--;
        pump();
      });
    }
    if (passOpen && !closed && reading === 0 && due.size === 0) passDone();
  };

  return {
    request() {
      if (closed) return;
      // A new resync supersedes a pending retry: every followed log is read again now.
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      attempt = 0;
      for (const log of options.followed()) due.add(log);
      passOpen = true;
      pump();
    },
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      due.clear();
      failed.clear();
    },
  };
}
