import { ConfigError } from '../core/errors.ts';
import { DEFAULT_LIMITS } from '../core/protocol.ts';

export interface RateLimit {
  /** Requests a client may make in a burst (bucket size). */
  burst: number;
  /** Requests per second added back to the bucket. */
  perSecond: number;
}

export interface ServerLimits {
  maxEventsPerPush: number;
  maxEventBytes: number;
  maxRequestBytes: number;
  maxPullLimit: number;
  /** Per-client request rate (token bucket), or false for none. */
  rateLimit: RateLimit | false;
  /** WebSocket connections on the live channel, per process. */
  maxLiveConnections: number;
  /** Bytes of request line plus headers (Node's maxHeaderSize on servers made by listen()); more gets 431 HEADERS_TOO_LARGE. */
  maxHeaderBytes: number;
  /** After an error reply to a request whose body was not read (413...), at most this many more bytes of it are read and dropped before the connection is closed. */
  maxDrainBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  ...DEFAULT_LIMITS,
  rateLimit: { burst: 200, perSecond: 100 },
  maxLiveConnections: 10_000,
  maxHeaderBytes: 32 * 1024,
  maxDrainBytes: 16 * 1024 * 1024,
};

/** The least maxHeaderBytes a server may be given. */
export const MIN_HEADER_BYTES = 1024;

export function resolveLimits(limits: Partial<ServerLimits> = {}): ServerLimits {
  const out: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...limits };
  for (const key of [
    'maxEventsPerPush',
    'maxEventBytes',
    'maxRequestBytes',
    'maxPullLimit',
    'maxLiveConnections',
    'maxHeaderBytes',
    'maxDrainBytes',
  ] as const) {
    if (!Number.isInteger(out[key]) || out[key] <= 0) throw new ConfigError(`limits.${key} must be a positive integer`);
  }
  // Below this, a request line and an Authorization header alone can be refused (431): a server nobody can use.
  if (out.maxHeaderBytes < MIN_HEADER_BYTES) {
    throw new ConfigError(`limits.maxHeaderBytes must be at least ${MIN_HEADER_BYTES}: a request line and its headers need that much`);
  }
  if (out.maxPullLimit > DEFAULT_LIMITS.maxPullLimit) {
    throw new ConfigError(`limits.maxPullLimit cannot exceed the protocol's ${DEFAULT_LIMITS.maxPullLimit}`);
  }
  if (out.rateLimit && !(out.rateLimit.burst >= 1 && out.rateLimit.perSecond > 0)) {
    throw new ConfigError('limits.rateLimit needs burst >= 1 and perSecond > 0');
  }
  return out;
}

/**
 * Token buckets, one per client key. `take` returns 0 when the request may go
 * on, else the milliseconds until a token is available. Idle full buckets are
 * forgotten so the map stays small.
 */
export function createRateLimiter(limit: RateLimit, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  const refill = (bucket: { tokens: number; at: number }, t: number): void => {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((t - bucket.at) / 1000) * limit.perSecond);
    bucket.at = t;
  };
  return {
    take(key: string): number {
      const t = now();
      if (t - lastSweep > 60_000) {
        lastSweep = t;
        for (const [k, b] of buckets) {
          refill(b, t);
          if (b.tokens >= limit.burst) buckets.delete(k);
        }
      }
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: limit.burst, at: t };
        buckets.set(key, bucket);
      }
      refill(bucket, t);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1000);
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
