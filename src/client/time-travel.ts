import { TimeTravelError, ValidationError } from '../core/errors.ts';
import type { LogCursor } from '../core/cursor.ts';
import { checkCallback } from './argument-checks.ts';
import type { TimeTravel } from './types.ts';

/**
 * Time travel is per tab: this store's live queries show the past, read-only;
 * the log itself is untouched.
 */
export interface TimeTravelState {
  readonly api: TimeTravel;
  /** Where live queries stand, or null at the head. */
  horizon(): LogCursor | null;
  /** Throws TimeTravelError while traveling: the past is read-only. */
  assertWritable(): void;
  onTravel(listener: (position: LogCursor | null) => void): () => void;
  /** Resolves once live queries stand at the head again (at once when they do), or when `signal` aborts. */
  atHead(signal: AbortSignal): Promise<void>;
}

export function createTimeTravel(): TimeTravelState {
  let horizon: LogCursor | null = null;
  const listeners = new Set<(position: LogCursor | null) => void>();
  const setHorizon = (position: LogCursor | null) => {
    horizon = position;
    for (const listener of [...listeners]) {
      try {
        listener(position);
      } catch {
        // One failing listener (an app's subscriber) must not keep the others, the live queries among them, from following.
      }
    }
  };
  const onTravel = (listener: (position: LogCursor | null) => void) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  return {
    api: {
      to(cursor) {
        if (!cursor || typeof cursor.area !== 'number' || typeof cursor.page !== 'number' || typeof cursor.index !== 'number') {
          throw new ValidationError('?', 'cursor', 'time travel needs a log cursor { area, page, index }');
        }
        setHorizon({ area: cursor.area, page: cursor.page, index: cursor.index });
      },
      resume: () => setHorizon(null),
      position: () => horizon,
      subscribe(listener) {
        checkCallback(listener, 'listener');
        return onTravel(listener);
      },
    },
    horizon: () => horizon,
    assertWritable() {
      if (horizon) throw new TimeTravelError();
    },
    onTravel,
    atHead(signal) {
      if (horizon === null || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          stopListening();
          signal.removeEventListener('abort', done);
          resolve();
        };
        const stopListening = onTravel((position) => {
          if (position === null) done();
        });
        signal.addEventListener('abort', done, { once: true });
      });
    },
  };
}
