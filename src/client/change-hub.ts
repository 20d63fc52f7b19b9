import { laterEnd, type LogEnd } from '../core/cursor.ts';
import type { Change } from '../../worker/contract.ts';
import type { EngineConnection } from './connection.ts';

/**
 * One subscription to the engine's change feed per store, shared by every
 * live query of the store.
 *
 * It is set up (awaited) before openStore returns, so `watch` can register
 * a listener synchronously: a commit made after a `subscribe*` call returns
 * is always heard, whereas a subscription made per query (a round trip to
 * the worker) missed the commits that raced it.
 */
export interface ChangeHub {
  /** Calls `onChange` for every change from now on; the returned function stops it. */
  watch(onChange: (change: Change) => void): () => void;
  /**
   * The log end as of the newest change heard: an event that lies beyond it
   * was stored after, or is being announced. A tail started here misses
   * nothing stored from now on.
   */
  end(): LogEnd;
  /** Stops every listener (the store closes). */
  close(): void;
}

export async function createChangeHub(connection: EngineConnection): Promise<ChangeHub> {
  const listeners = new Set<(change: Change) => void>();
  let end: LogEnd = { confirmedHead: 0, nextLsn: 1 };
  const heard = (change: Change) => {
    if (change.kind === 'appended' && change.end) end = laterEnd(end, change.end);
    if (change.kind === 'confirmed') end = laterEnd(end, { confirmedHead: change.head, nextLsn: 0 });
    for (const listener of [...listeners]) {
      try {
        listener(change);
      } catch {
        // One failing listener must not keep the others from hearing.
      }
    }
  };
  const unsubscribe = await connection.subscribe(heard);
  // Read after subscribing: whatever commits in between is covered by both, and ends only grow.
  end = laterEnd(end, await connection.engine.logEnd());
  return {
    watch(onChange) {
      listeners.add(onChange);
      return () => void listeners.delete(onChange);
    },
    end: () => end,
    close() {
      listeners.clear();
      unsubscribe();
    },
  };
}
