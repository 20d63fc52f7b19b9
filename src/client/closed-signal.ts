import type { StoreClosedError } from '../core/errors.ts';

/**
 * The moment a store closes (close() begins) or stops on its own, for the
 * parts that must tell their listeners: once it has, no change comes again.
 * Listeners are kept in a set and removed when their subscription ends, so a
 * store open for hours with views subscribing and leaving holds only the ones
 * still there (a promise's then() would hold every one until the close).
 */
export interface ClosedSignal {
  /** Calls `listener` once when the store closes (at once, in a microtask, if it has); returns its removal. */
  onClosed(listener: (error: StoreClosedError) => void): () => void;
  /** The store closes (the first call wins; later ones change nothing). */
  close(error: StoreClosedError): void;
}

/** Calls a listener; what it throws is the app's (an onError that fails) and must not stop the close. */
function tell(listener: (error: StoreClosedError) => void, error: StoreClosedError): void {
  try {
    listener(error);
  } catch {
    // The store closes all the same: its other listeners, its jobs and its engine must still stop.
  }
}

export function createClosedSignal(): ClosedSignal {
  const listeners = new Set<(error: StoreClosedError) => void>();
  let closedWith: StoreClosedError | undefined;
  return {
    onClosed(listener) {
      if (closedWith) {
        const error = closedWith;
        let removed = false;
        queueMicrotask(() => {
          if (!removed) tell(listener, error);
        });
        return () => void (removed = true);
      }
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close(error) {
      if (closedWith) return;
      closedWith = error;
      const all = [...listeners];
      listeners.clear();
      for (const listener of all) tell(listener, error);
    },
  };
}
