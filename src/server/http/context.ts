import { ConfigError } from '../../core/errors.ts';
import type { Logger } from '../logger.ts';
import type { ServerLimits } from '../limits.ts';
import type { MetricsRecorder } from '../metrics.ts';
import type { LogStore } from '../store/types.ts';
import type { DataCheck } from './push-data-check.ts';
import type { PushDecoder } from './push-decoder.ts';
import type { Replier } from './reply.ts';

/** Every wait of the HTTP layer is bounded; these are the bounds (the store's own are in its options). */
export interface ServerTimeouts {
  /** A push, pull or fence that the store has not answered by then gets 503 UNAVAILABLE (reason "store-timeout"). Default 15,000 ms. */
  storeMs: number;
  /** /ready answers 503 when the store has not answered a ping by then. Default 3,000 ms. */
  readyMs: number;
  /** A request body that has not fully arrived by then gets 408 REQUEST_TIMEOUT. Default 30,000 ms. */
  bodyMs: number;
  /** Request line and headers must arrive within this (Node's headersTimeout; 408 with an error body). Default 20,000 ms. */
  headersMs: number;
  /** How long close() waits for requests in flight before closing connections anyway. Default 10,000 ms. */
  shutdownMs: number;
  /** After an error reply to a request whose body was not read, how long the rest of the body is read and dropped. Default 5,000 ms. */
  drainMs: number;
  /** An auth hook that has not answered by then: 503 UNAVAILABLE (reason "auth-timeout"). Default 10,000 ms. */
  authMs: number;
  /**
   * A reply (or a live socket's messages) the client does not read: once no byte of it has been taken by the
   * network for this long, the connection is destroyed (see watchUnreadReply). Default 30,000 ms.
   */
  replyMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = {
  storeMs: 15_000,
  readyMs: 3_000,
  bodyMs: 30_000,
  headersMs: 20_000,
  shutdownMs: 10_000,
  drainMs: 5_000,
  authMs: 10_000,
  replyMs: 30_000,
};

export function resolveTimeouts(given: Partial<ServerTimeouts> = {}): ServerTimeouts {
  const out = { ...DEFAULT_SERVER_TIMEOUTS };
  for (const [key, value] of Object.entries(given) as [keyof ServerTimeouts, number | undefined][]) {
    if (value === undefined) continue;
    // Own keys only: `in` would take "toString" or "constructor" (inherited) for timeouts.
    if (!Object.hasOwn(DEFAULT_SERVER_TIMEOUTS, key)) throw new ConfigError(`Unknown timeout "${key}"`);
    // Node's timers take at most 2^31 - 1 ms; a longer one would fire at once.
    if (!Number.isInteger(value) || value <= 0 || value > 2_147_483_647)
      throw new ConfigError(`timeouts.${key} must be a positive integer (milliseconds) of at most 2147483647, got ${String(value)}`);
    out[key] = value;
  }
  return out;
}

/** What the request handlers share. */
export interface HandlerContext {
  store: LogStore;
  limits: ServerLimits;
  timeouts: ServerTimeouts;
  replier: Replier;
  metrics: MetricsRecorder;
  logger: Logger;
  /** Decodes large push bodies in worker threads (absent: every body is decoded on the event loop). */
  decoder?: PushDecoder | undefined;
  /** The app's event definitions pushed data is checked against (createSyncServer's checkEvents; absent: not checked). */
  dataCheck?: DataCheck | undefined;
}
