/**
 * Counts the panel's async work (reads, filter passes, inspects, exports) so
 * that `idle()` can say when everything has settled, and the panel can say
 * it is busy (aria-busy).
 */
export interface Activity {
  track<T>(work: Promise<T>): Promise<T>;
  /** Resolves when no tracked work is left, including work that finishing work started. */
  idle(): Promise<void>;
}

export function createActivity(onBusy: (busy: boolean) => void): Activity {
  let busy = 0;
  let waiters: (() => void)[] = [];
  return {
    track(work) {
      if (busy++ === 0) onBusy(true);
      const done = () => {
        busy--;
        if (busy === 0) {
          onBusy(false);
          const settled = waiters;
          waiters = [];
          for (const resolve of settled) resolve();
        }
      };
      work.then(done, done);
      return work;
    },
    async idle() {
      for (;;) {
        if (busy > 0) await new Promise<void>((resolve) => waiters.push(resolve));
        // Work that finishing work started (a filter pass after a load) counts too.
        await Promise.resolve();
        await Promise.resolve();
        if (busy === 0) return;
      }
    },
  };
}
