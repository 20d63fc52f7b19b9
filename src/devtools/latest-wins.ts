/**
 * A latest-wins request loop: one run at a time; requests made meanwhile
 * wait as one (the newest, or all of them merged), and run after it. A run
 * can ask whether a newer request waits (`superseded`): its answer is then
 * stale and need not be shown.
 *
 * The panel uses it for the state before/after an event, for what-if, and
 * for reading what was appended to the log.
 */

export interface LatestWins<T> {
  /** Asks for a run with `value`: now, or after the run under way (merged with a request still waiting). */
  request(value: T): void;
  /** Starts the waiting request, if any, now that `hold` lets go. */
  flush(): void;
  /** Forgets the waiting request (the run under way finishes). */
  drop(): void;
  /** A newer request waits: the run under way is answering an old one. */
  readonly superseded: boolean;
  /** A run is under way. */
  readonly running: boolean;
}

export interface LatestWinsOptions<T> {
  /** Combines a waiting request with a newer one; default: the newer replaces it. */
  merge?(waiting: T, next: T): T;
  /** While this says true no run starts; requests wait for `flush()`. Checked before every run. */
  hold?(): boolean;
  /** Sees each stretch of runs (from a first request until nothing waits), e.g. to count busy work. */
  track?(work: Promise<void>): void;
  /** A run threw: the loop stops and a later request starts it again. Without it the stretch's promise rejects. */
  onError?(error: unknown): void;
}

export function latestWins<T>(run: (value: T) => Promise<void>, options: LatestWinsOptions<T> = {}): LatestWins<T> {
  let waiting: { value: T } | null = null;
  let running = false;

  const loop = async (): Promise<void> => {
    try {
      while (waiting && !options.hold?.()) {
        const { value } = waiting;
        waiting = null;
        await run(value);
      }
    } catch (error) {
      if (!options.onError) throw error;
      options.onError(error);
    } finally {
      running = false;
    }
  };

  const start = (): void => {
    if (running || !waiting || options.hold?.()) return;
    running = true;
    const work = loop();
    if (options.track) options.track(work);
    else void work;
  };

  return {
    request(value) {
      waiting = waiting && options.merge ? { value: options.merge(waiting.value, value) } : { value };
      start();
    },
    flush: start,
    drop() {
      waiting = null;
    },
    get superseded() {
      return waiting !== null;
    },
    get running() {
      return running;
    },
  };
}
