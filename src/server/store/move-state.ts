import { SyncError } from '../errors.ts';

/**
 * A log's place in a move between databases (chronicle_logs.move_state; the
 * procedure is in docs/scale-out.md):
 *
 * - `moving-out`: on the database the log is leaving. Its events stay
 *   readable; pushes and fences are refused (503, reason "log-moving") so that
 *   nothing is written while it is copied.
 * - `moving-in`: on the database it is being copied to. Nothing is served
 *   from it (503 "log-moving") until the copy is verified and switched on.
 * - `moved`: on the database it left: a tombstone naming where it went
 *   (`move_peer`). Everything is refused with 503 "log-moved" and
 *   `details.shard`, which a sharded store follows.
 *
 * null: the log is served here as usual.
 */
export type MoveState = 'moving-out' | 'moving-in' | 'moved';

export interface LogMove {
  state: MoveState;
  /** The other database of the move (the shard's name). */
  peer: string;
}

export function toLogMove(state: string | null | undefined, peer: string | null | undefined): LogMove | undefined {
  if (state === 'moving-out' || state === 'moving-in' || state === 'moved') return { state, peer: peer ?? '' };
  return undefined;
}

/**
 * The refusal a request to a log in a move gets here (undefined: serve it).
 * Reads are served from a log moving out (it no longer changes); writes are not.
 */
export function moveRefusal(log: string, move: LogMove | undefined, write: boolean): SyncError | undefined {
  if (!move) return undefined;
  if (move.state === 'moved') {
    return new SyncError('UNAVAILABLE', `Log "${log}" has moved to another database ("${move.peer}"); retry`, {
      reason: 'log-moved',
      shard: move.peer,
    });
  }
  if (move.state === 'moving-in' || write) {
    return new SyncError('UNAVAILABLE', `Log "${log}" is being moved to another database; retry shortly`, { reason: 'log-moving' });
  }
  return undefined;
}
