import type { PullResponse, PushRequest, PushResponse } from '../../core/protocol.ts';

/** A push as the store receives it: already validated against pushRequestSchema and the limits. */
export type PushInput = PushRequest;

/** An event of a push as a store judges it: the keys the rules look at (the rest is in its JSON). */
export interface PushedEventKeys {
  id: string;
  aggregateId: string;
  seq: number;
}

/**
 * A push the HTTP layer decoded and validated off the event loop (see
 * LogStore.pushDecoded): the push's fields, its events as their keys, and each
 * event's JSON as the store keeps it (`JSON.stringify` of the validated event).
 */
export interface DecodedPush {
  protocolVersion: PushRequest['protocolVersion'];
  clientId: string;
  epoch?: number;
  from: number;
  to: number;
  events: readonly PushedEventKeys[];
  eventsJson: readonly string[];
}

/** What the caller of `push` already computed, so the store need not do it again. */
export interface PreparedPush {
  /** `JSON.stringify(event)` of each event of the push, in order (the HTTP layer makes them to check event sizes). */
  eventsJson?: readonly string[];
  /** Date.now() after which the caller no longer waits: a push still queued then is refused (UNAVAILABLE), not judged. */
  deadline?: number;
}

/** A fence's outcome: the client's epoch and high-water mark under the log's lock. */
export interface FenceResult {
  epoch: number;
  clientSeq: number;
}

/** What a store tells /metrics. */
export interface StoreStats {
  /** Connection pool use, for stores that have a pool. */
  pool?: { total: number; idle: number; waiting: number; max: number };
  /** Database failures seen so far (lost connections, failed reconnects, bounded waits that ran out). */
  errors: number;
  /**
   * The LISTEN connections through which other server processes' head moves
   * arrive (PostgreSQL: one per database), for stores that have them: how
   * many there are and how many are up now. One that is down is reconnecting;
   * until it is back, this process's live sockets miss those moves.
   */
  listen?: { connected: number; total: number };
}

export interface PushResult extends PushResponse {
  /** How many events this push stored (range length minus duplicates). */
  appended: number;
}

export interface PullInput {
  /** Return events with position > after. */
  after: number;
  /** At most this many events. */
  limit: number;
  /** When given, the result carries this client's applied clientSeq high-water mark. */
  clientId?: string | undefined;
}

/**
 * Called whenever a log's head moves: after a push committed in this process,
 * and (for stores shared by several processes) when another process reports one.
 * The same head may be reported more than once; heads of one log never go down.
 */
export type HeadListener = (log: string, head: number) => void;

/**
 * Called when the store may have missed head moves (e.g. its notification
 * connection was lost and re-established): a watcher should re-read the heads
 * it cares about with `head()`.
 */
export type ResyncListener = () => void;

/**
 * Storage for server logs, one log per tenant. Every implementation must pass
 * test/server/conformance.ts. The contract:
 *
 * - `push` runs in ONE transaction that serialises writers per log. It refuses
 *   (throwing SyncError, storing nothing) a range that leaves a gap
 *   (CLIENT_SEQ_GAP), an already-applied clientSeq re-sent with another event id
 *   (CLIENT_SEQ_MISMATCH), an event id stored for another (client, clientSeq)
 *   (DUPLICATE_EVENT_ID) and an event whose seq is not its aggregate's head + 1
 *   (SEQ_CONFLICT). Already-applied clientSeqs are acknowledged with their stored
 *   positions; new events get the next gapless positions; aggregate heads, the
 *   client's high-water mark and the log head are updated in the same transaction.
 * - Positions are visible in commit order: once `pull` returned position p, no
 *   event with a position <= p can appear later.
 * - A push whose epoch is below the client's stored epoch is refused
 *   (STALE_EPOCH); `fence` raises the stored epoch under the log's lock, so no
 *   push judged before it can be stored after it.
 */
export interface LogStore {
  readonly kind: string;
  push(log: string, push: PushInput, prepared?: PreparedPush): Promise<PushResult>;
  /**
   * Optional: the same as push, for a push decoded off the event loop (its
   * events as keys and JSON, no objects). The HTTP layer uses it when present;
   * a store without it gets push() with the events parsed on the event loop.
   */
  pushDecoded?(log: string, push: DecodedPush, prepared?: Pick<PreparedPush, 'deadline'>): Promise<PushResult>;
  pull(log: string, query: PullInput): Promise<PullPage>;
  /** The log's head (0 for a log that has no event yet). */
  head(log: string): Promise<number>;
  /** The highest clientSeq applied for this client in this log (0 when none). */
  clientSeq(log: string, clientId: string): Promise<number>;
  /** Raises the client's epoch to at least `epoch` (never lowers it); returns the epoch and mark now stored. */
  fence(log: string, clientId: string, epoch: number): Promise<FenceResult>;
  /** Subscribe to head moves; returns the unsubscribe function. */
  watch(onHead: HeadListener, onResync?: ResyncListener): () => void;
  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;
  /** Pool use and error counts for /metrics (optional). */
  stats?(): StoreStats;
  close(): Promise<void>;
}

/**
 * A pull page. `eventsJson` holds the events' stored JSON texts (each with its
 * position), in position order, so the HTTP layer can send them without parsing
 * and re-serialising; `toPullResponse` parses them when an object is wanted.
 */
export interface PullPage {
  eventsJson: string[];
  head: number;
  hasMore: boolean;
  clientSeq?: number | undefined;
}

export function toPullResponse(page: PullPage): PullResponse {
  const response: PullResponse = {
    events: page.eventsJson.map((text) => JSON.parse(text) as PullResponse['events'][number]),
    head: page.head,
    hasMore: page.hasMore,
  };
  if (page.clientSeq !== undefined) response.clientSeq = page.clientSeq;
  return response;
}

/** The JSON body of a pull reply, built from the stored event texts without re-serialising them. */
export function pullPageToJson(page: PullPage): string {
  let out = `{"events":[${page.eventsJson.join(',')}],"head":${page.head},"hasMore":${page.hasMore}`;
  if (page.clientSeq !== undefined) out += `,"clientSeq":${page.clientSeq}`;
  return out + '}';
}
