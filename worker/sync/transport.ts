import { ChronicleError, ConfigError, type ChronicleErrorCode } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { isHeaderToken } from '../../src/core/text-rules.ts';
import { messageOfThrown } from '../../src/core/thrown.ts';
import { PROTOCOL_VERSION, type FenceResponse, type PushResponseMinimal } from '../../src/core/protocol.ts';

/** The server answered with an error body (4xx/5xx): code, status and details as it sent them. */
export class SyncHttpError extends ChronicleError {
  override name = 'SyncHttpError';
  constructor(
    readonly status: number,
    code: ChronicleErrorCode,
    message: string,
    details: Record<string, unknown>,
    /** The reply carried the protocol's error body (a code): false for a proxy's or gateway's page, or a body cut off. */
    readonly errorBody = true,
  ) {
    super(code, `Sync server: ${status} ${code}: ${message}`, { ...details, status });
  }
}

/** The server could not be reached (network down, DNS, refused, aborted). */
export class OfflineError extends ChronicleError {
  override name = 'OfflineError';
  constructor(
    cause: string,
    /** The request went out and no reply came in time (not refused or unsent). */
    readonly timedOut = false,
  ) {
    super('OFFLINE', `Sync server unreachable: ${cause}`, { cause });
  }
}

const MAX_RATE_LIMIT_WAIT_MS = 5000;

/** A non-negative safe integer: an epoch, a clientSeq, a position. */
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** Waits `ms`, or less if `signal` aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
/**
 * The longest one request may take, reply included. The server bounds its own
 * waits (its store timeout is 15 s by default); this bounds the network's: a
 * connection that went silent fails the round (offline, retried with backoff)
 * instead of holding the sync loop forever.
 */
const REQUEST_TIMEOUT_MS = 60_000;

export interface PullPage {
  events: StoredEvent[];
  head: number;
  hasMore: boolean;
  clientSeq?: number;
}

export interface TransportOptions {
  url: string;
  log: string;
  token: () => Promise<string | undefined>;
  fetch?: typeof fetch | undefined;
  /** Aborted when the sync stops (the store closes): a request in flight, or a wait for the rate limit, ends then. */
  stopping?: AbortSignal | undefined;
}

/**
 * Retry-After as the server may send it: seconds, or an HTTP date (RFC 9110, 10.2.3). Undefined when it is
 * neither or not in the future.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds > 0 ? seconds * 1000 : undefined;
  const at = Date.parse(header);
  return Number.isFinite(at) && at > now ? at - now : undefined;
}

/**
 * A pull page's events in the order the protocol gives them: positions one after another from `after + 1`,
 * none past the page's head, no id twice. A page out of that order would be stored as it came (positions
 * checked one by one where they are stored, ids not against each other) and leave the local log wedged.
 */
export function pageOrderProblem(events: readonly { position?: unknown; id?: unknown }[], after: number, head: number): string | undefined {
  const ids = new Set<unknown>();
  for (let i = 0; i < events.length; i++) {
    const { position, id } = events[i]!;
    if (position !== after + 1 + i) return `event ${i} is at position ${String(position)}, where ${after + 1 + i} comes`;
    if (position > head) return `event ${i} is at position ${position}, past the page's head ${head}`;
    if (ids.has(id)) return `event id ${String(id).slice(0, 80)} comes twice`;
    ids.add(id);
  }
  return undefined;
}

/** push, pull and fence over HTTP as docs/protocol.md describes them. */
export interface Transport {
  /**
   * Pushes the events (consecutive clientSeqs) with the client's rebase epoch.
   * Asks for the reply without positions (Prefer: return=minimal): the events
   * are confirmed by the pull that follows, and positions are most of a reply.
   * Stops asking when the header is what keeps pushes from getting through.
   */
  push(clientId: string, events: StoredEvent[], epoch: number): Promise<PushResponseMinimal>;
  /** Raises the client's epoch on the server (before a rebase renumbers pending events). */
  fence(clientId: string, epoch: number): Promise<FenceResponse>;
  /**
   * The events after `after`. `held`: the client already holds the events at positions up to it (a round's
   * first pull starts one early, at the last one it holds, to check the server still has it: sync-round.ts);
   * they are never stored again, so a layer that transforms events (encryption) need not be able to.
   */
  pull(after: number, limit: number, clientId?: string, held?: number): Promise<PullPage>;
  liveUrl(): Promise<string>;
}

export function createTransport(options: TransportOptions): Transport {
  const base = `${options.url.replace(/\/+$/, '')}/v1/logs/${encodeURIComponent(options.log)}`;
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  /**
   * Whether pushes ask for replies without positions (Prefer: return=minimal). Off for good once a
   * push failed at the network level with the header and went through without it.
   */
  let askMinimal = true;

  /** A 429 with a short wait is waited out here (a few times) rather than failing the whole round. */
  const request = async (path: string, init: RequestInit, extraHeaders: Record<string, string> = {}): Promise<unknown> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await requestOnce(path, init, extraHeaders);
      } catch (error) {
        const wait = error instanceof SyncHttpError && error.code === 'RATE_LIMITED' ? Number(error.details.retryAfterMs ?? 250) : NaN;
        if (!(wait <= MAX_RATE_LIMIT_WAIT_MS) || attempt >= 5 || options.stopping?.aborted) throw error;
        await pause(Math.max(wait, 10), options.stopping);
      }
    }
  };

  const requestOnce = async (path: string, init: RequestInit, extraHeaders: Record<string, string>): Promise<unknown> => {
    const token = await options.token();
    // A token fetch would refuse (a line break, a character outside Latin-1) failed as OFFLINE, "unreachable".
    if (token && !isHeaderToken(token)) {
      throw new ConfigError('sync.getToken returned a token an HTTP header cannot carry: it must be printable ASCII');
    }
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    // Bounded, and ended by the sync stopping: close() must not wait a minute for a server that trickles.
    const signal = options.stopping
      ? AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), options.stopping])
      : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const offline = (error: unknown) => {
      const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
      return new OfflineError(timedOut ? `no reply within ${REQUEST_TIMEOUT_MS} ms` : messageOfThrown(error), timedOut);
    };
    if (init.body) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      // Redirects are not followed: a push would be sent on, events and all, to a URL the app never named.
      response = await doFetch(`${base}${path}`, { ...init, headers, redirect: 'manual', signal });
    } catch (error) {
      throw offline(error);
    }
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      // A browser shows a redirect it was told not to follow as status 0: 300 stands for "a redirect".
      const status = response.status || 300;
      throw new SyncHttpError(
        status,
        `HTTP_${status}`,
        "a redirect, not followed: sync.url must be the sync server's own address",
        {},
        false,
      );
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      // A body that stopped coming is the network's failure, not a malformed reply.
      const name = (error as { name?: unknown } | null)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') throw offline(error);
      body = undefined;
    }
    if (!response.ok) {
      const e = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
      const wait = retryAfterMs(response.headers.get('retry-after'));
      const fromHeader = wait === undefined ? {} : { retryAfterMs: wait };
      const details = { ...fromHeader, ...(e?.details ?? {}) };
      const errorBody = typeof e?.code === 'string';
      throw new SyncHttpError(
        response.status,
        // The server's code as it sent it (one of docs/protocol.md's, or a newer server's).
        errorBody ? (e.code as ChronicleErrorCode) : `HTTP_${response.status}`,
        e?.message ?? response.statusText,
        details,
        errorBody,
      );
    }
    return body;
  };

  return {
    async push(clientId, events, epoch) {
      const body = {
        protocolVersion: PROTOCOL_VERSION,
        clientId,
        epoch,
        from: events[0]!.meta.clientSeq,
        to: events[events.length - 1]!.meta.clientSeq,
        events: events.map(({ position: _position, ...event }) => event),
      };
      const init: RequestInit = { method: 'POST', body: JSON.stringify(body) };
      if (!askMinimal) return (await request('/push', init)) as PushResponseMinimal;
      try {
        return (await request('/push', init, { prefer: 'return=minimal' })) as PushResponseMinimal;
      } catch (error) {
        // The header itself may be what failed: a proxy answering CORS preflights with a fixed list of
        // headers makes the browser refuse the request at once, which looks like a network error. Sent
        // again without it (a push is idempotent: a range that did arrive is acknowledged as duplicates).
        // A push that timed out is not: that server is slow, and a second wait would double the round's.
        if (!(error instanceof OfflineError) || error.timedOut) throw error;
        const reply = (await request('/push', init)) as PushResponseMinimal;
        askMinimal = false;
        return reply;
      }
    },
    async fence(clientId, epoch) {
      const reply = (await request('/fence', {
        method: 'POST',
        body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId, epoch }),
      })) as FenceResponse;
      // Numbers the client goes on with (its epoch, the clientSeqs it renumbers from): safe integers, or nothing is trusted.
      if (!reply || !isCount(reply.epoch) || !isCount(reply.clientSeq)) {
        throw new ChronicleError('SYNC_PROTOCOL', 'Sync server: malformed fence response');
      }
      return reply;
    },
    async pull(after, limit, clientId) {
      const query = new URLSearchParams({ after: String(after), limit: String(limit) });
      if (clientId) query.set('clientId', clientId);
      const page = (await request(`/pull?${query}`, { method: 'GET' })) as PullPage;
      if (
        !page ||
        !Array.isArray(page.events) ||
        !Number.isInteger(page.head) ||
        page.head < 0 ||
        typeof page.hasMore !== 'boolean' ||
        (page.clientSeq !== undefined && !isCount(page.clientSeq)) ||
        // Each event is checked field by field where it is stored (ingest.ts); here only that there is one.
        page.events.some((event) => typeof event !== 'object' || event === null)
      ) {
        throw new ChronicleError('SYNC_PROTOCOL', 'Sync server: malformed pull response');
      }
      const outOfOrder = pageOrderProblem(page.events, after, page.head);
      if (outOfOrder) throw new ChronicleError('SYNC_PROTOCOL', `Sync server: pull page out of order: ${outOfOrder}`, { after });
      return page;
    },
    async liveUrl() {
      const token = await options.token();
      const url = new URL(`${base}/live`);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      if (token) url.searchParams.set('token', token);
      return url.toString();
    },
  };
}
