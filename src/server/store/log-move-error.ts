/**
 * The error of a log move (log-move.ts), in a file of its own so that the
 * move's parts (log-move-copy.ts, log-move-verify.ts) can throw it without
 * importing the orchestration that imports them.
 */

/** A move that cannot start, or that stopped (and was undone): what and why, with the facts in `details`. */
export class LogMoveError extends Error {
  override name = 'LogMoveError';
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.details = details;
  }
}

export const refuse = (message: string, details: Record<string, unknown> = {}): LogMoveError => new LogMoveError(message, details);
