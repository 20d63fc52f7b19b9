import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../core/errors.ts';
import { resolveAuth, type AuthOption, type Principal } from './auth.ts';
import { createAdmission } from './http/admit.ts';
import { discardRest } from './http/body.ts';
import { awaitContinue } from './http/expect-continue.ts';
import { handleClientError } from './http/client-error.ts';
import { createConnectRefusals } from './http/connect-method.ts';
import { resolveTimeouts, type HandlerContext, type ServerTimeouts } from './http/context.ts';
import { createLiveUpgrades } from './http/live-upgrade.ts';
import { dataCheckOf, type CheckEventsOption } from './http/push-data-check.ts';
import { createPushDecoder, DEFAULT_PUSH_DECODING, type PushDecodingOptions } from './http/push-decoder.ts';
import { createReplier, watchUnreadReply, type CorsOptions, type Replier } from './http/reply.ts';
import { beginRequest, CLIENT_GONE_STATUS, UNREAD_REPLY_REASON, type RequestInfo } from './http/request-context.ts';
import { createRequestFinisher, logFailureAfterLeaving } from './http/request-log.ts';
import { createRouter } from './http/router.ts';
import { createRateLimiter, resolveLimits, type ServerLimits } from './limits.ts';
import { createLiveHub } from './live.ts';
import { consoleLogger, neverThrowing, type Logger } from './logger.ts';
import { createMetrics, noMetrics } from './metrics.ts';
import type { LogStore } from './store/types.ts';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../core/protocol.ts';

export type { CorsOptions } from './http/reply.ts';
export type { PushDecodingOptions } from './http/push-decoder.ts';
export type { ServerTimeouts } from './http/context.ts';

export interface SyncServerOptions {
  store: LogStore;
  /** An authenticate hook, or `{ tokens }` for the built-in bearer-token mode. Omit to allow everything (a warning is logged). */
  auth?: AuthOption;
  limits?: Partial<ServerLimits>;
  /** Bounds on every wait of the HTTP layer (defaults: DEFAULT_SERVER_TIMEOUTS, in the README). */
  timeouts?: Partial<ServerTimeouts>;
  logger?: Logger;
  /** CORS for browser apps on other origins; false to send no CORS headers. Default: every origin. */
  cors?: CorsOptions | false;
  /** The key requests are rate limited by. Default: the principal's id, or the peer address for anonymous callers. */
  rateLimitKey?: (request: IncomingMessage, principal: Principal) => string;
  /** How long close() waits for requests in flight (same as timeouts.shutdownMs; default 10 s). */
  shutdownTimeoutMs?: number;
  /** Interval of WebSocket pings; a socket that missed one pong is dropped (default 30 s). */
  livePingIntervalMs?: number;
  /**
   * How often an open live socket's credentials are asked about again (the
   * auth hook, with the request that opened it): one whose token expired or
   * was revoked is closed with 4401, one that lost read access with 4403.
   * Default 60 s; 0 never asks again.
   */
  liveAuthRecheckMs?: number;
  /** Whether close() also closes the store (default true). */
  closeStore?: boolean;
  /** GET /metrics in Prometheus' text format (needs the optional peer prom-client). Default true. */
  metrics?: boolean;
  /** Log every request (one line each), not only the refused and failed ones. Default false. */
  accessLog?: boolean;
  /**
   * Large push bodies are decoded (parsed, validated, each event's JSON made) in
   * worker threads, when the store takes decoded pushes (LogStore.pushDecoded):
   * see DEFAULT_PUSH_DECODING. false: every body on the event loop.
   */
  pushDecoding?: PushDecodingOptions | false;
  /**
   * The app's event definitions (the `events` and `aggregates` its stores open
   * with): every event a push would store is checked against them, as a reader
   * of that build reads it, and one they refuse gets 422 INVALID_EVENT, so one
   * client's bad data never reaches the others. Events of types or versions
   * they do not define, and encrypted events, pass unchecked. Default: data is
   * not checked (only that it is storable JSON).
   */
  checkEvents?: CheckEventsOption;
}

export interface ListenAddress {
  host: string;
  port: number;
  url: string;
}

export interface SyncServer {
  /** A node:http request listener; with `next`, requests outside the server's routes are passed on instead of getting 404. */
  handler(request: IncomingMessage, response: ServerResponse, next?: () => void): void;
  /** Serves the live channel (WebSocket upgrades on /v1/logs/:log/live) on an HTTP server. */
  attachWebSocket(server: Server): void;
  /**
   * A 'clientError' listener for an HTTP server of your own: requests Node cannot
   * parse (headers over maxHeaderSize, malformed) get the protocol's error body
   * instead of Node's bare status line. listen() installs it.
   */
  clientErrorHandler(error: Error, socket: Duplex): void;
  /**
   * Creates an HTTP server with the handler and the live channel, and listens. Port 0 picks a free port.
   * Rejects (a plain Error) when called a second time, or after close(): a closed server stays closed.
   */
  listen(port: number, host?: string): Promise<ListenAddress>;
  /**
   * Graceful shutdown: requests already received are finished (also those whose
   * bytes were still in the socket when close() was called), later ones get 503
   * UNAVAILABLE (reason "shutting-down"), /health says "shutting-down"; then live
   * sockets close (1001), then the store. Every wait is bounded (timeouts.shutdownMs for the requests
   * in flight); the connections of listen()'s server still open at the end are destroyed.
   */
  close(): Promise<void>;
  readonly limits: ServerLimits;
  readonly timeouts: ServerTimeouts;
}

/** Turns of the event loop after close() during which arriving requests are still served: an accept, then a read. */
const DRAIN_TURNS = 3;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The HTTP server listen() makes: Node's limits and timeouts set from the server's, every request to
 * `handler`, and CONNECT to `connectHandler` (Node gives no CONNECT to `handler`).
 */
function createOwnServer(
  maxHeaderBytes: number,
  timeouts: Required<ServerTimeouts>,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  clientErrorHandler: (error: Error, socket: Duplex) => void,
  connectHandler: (request: IncomingMessage, socket: Duplex) => void,
): Server {
  const server = createServer(
    {
      maxHeaderSize: maxHeaderBytes,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.headersMs + timeouts.bodyMs,
      // Node looks for connections past those timeouts this often (its default, 30 s, would let a request
      // that never finishes its headers hold a connection up to 30 s past the bound).
      connectionsCheckingInterval: headersCheckMs(timeouts.headersMs),
      // Node's own 400 for an HTTP/1.1 request without Host is a bare status line: the router answers it
      // with the protocol's error body instead.
      requireHostHeader: false,
    },
    handler,
  );
  server.on('clientError', clientErrorHandler);
  // An Expect other than 100-continue: Node would answer a bare 417 before any check. The server may
  // ignore an expectation it does not meet (RFC 9110, 10.1.1): the request is served as any other.
  server.on('checkExpectation', handler);
  // Expect: 100-continue is answered once the body is wanted, not before the request's checks (expect-continue.ts).
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    awaitContinue(request, response);
    handler(request, response);
  });
  // Without a 'connect' listener, Node destroys the socket of a CONNECT: no reply to it, and none to a
  // request pipelined before it whose reply was not written yet (connect-method.ts).
  server.on('connect', connectHandler);
  return server;
}

/**
 * Once listening, an 'error' on the listener is an accept() that failed: libuv passes on what the kernel
 * said (ENOBUFS or ENOMEM under memory pressure, EPERM from a firewall rule, a network error pending on the
 * new connection, EMFILE once its spare descriptor is gone). That connection is lost; the listener listens
 * on. With no listener for it, Node threw it and the process ended. Logged at most once a minute.
 */
function acceptErrorLogger(logger: Logger): (error: NodeJS.ErrnoException) => void {
  let failed = 0;
  let loggedAt = -Infinity;
  return (error) => {
    failed++;
    if (performance.now() - loggedAt < 60_000) return;
    loggedAt = performance.now();
    logger.error('a connection could not be accepted (the server keeps listening)', {
      error: error.code ?? error.message,
      failedSoFar: failed,
    });
  };
}

/** How often Node checks for requests past the header timeout: a quarter of it, between 50 ms and 1 s. */
function headersCheckMs(headersMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(headersMs / 4)));
}

/**
 * Every reply (JSON replies, preflights, /metrics), once all of it is on its socket ('prefinish': ended, and
 * its turn come on a pipelined connection), must be read by its client (watchUnreadReply). One that is not
 * has its connection destroyed: logged once, with what it was, and counted as a request whose client left
 * (no reply reached it: CLIENT_GONE_STATUS). The app's own replies (`next`) are its server's business.
 * HTTP/1 only: a `handler` mounted on Node's HTTP/2 compatibility API gets no 'prefinish' (its streams are
 * bounded by HTTP/2's flow control and that server's own session timeout, not by this).
 */
function watchReply(response: ServerResponse, info: RequestInfo, replyMs: number, logger: Logger): void {
  response.once('prefinish', () => {
    if (info.action === 'next') return;
    watchUnreadReply(response, replyMs, () => {
      logger.warn('reply dropped: the client did not read it (connection closed)', {
        requestId: info.id,
        action: info.action,
        log: info.log,
        status: info.status,
        code: info.code,
        reason: info.reason,
        replyMs,
      });
      info.status = CLIENT_GONE_STATUS;
      info.reason = UNREAD_REPLY_REASON;
    });
  });
}

/** The live sockets' recheck interval: a whole number of milliseconds, 0 for never (default 60 s). */
function liveAuthRecheckMsOf(given: number | undefined): number {
  if (given === undefined) return 60_000;
  if (!Number.isInteger(given) || given < 0 || given > 2_147_483_647) {
    throw new ConfigError(`liveAuthRecheckMs must be 0 or a positive integer (milliseconds), got ${String(given)}`);
  }
  return given;
}

/**
 * Calls `end` once, when the request is over: at its response's 'close', or once its connection closed
 * with its reply still queued behind another's (none of it written: `end` counts it as a request whose
 * client left, CLIENT_GONE_STATUS, as any reply not written whole).
 *
 * On a keep-alive connection, requests can come pipelined: Node parses each one and calls the handler at
 * once, but its response waits in a queue until the ones ahead of it are written. When the socket dies
 * (the client resets it, watchUnreadReply destroys it), Node emits 'close' for the response that has the
 * socket only: one still queued behind it never gets the socket, and never emits 'close', 'finish' or
 * anything else (seen with Node v20.20: lib/_http_server.js socketOnClose destroys the queued requests,
 * abortIncoming, and leaves their responses, state.outgoing, as they are). Such a request stayed in flight
 * for good: every close() after it waited its whole shutdownMs, and it was never logged nor counted.
 */
function whenEnded(request: IncomingMessage, response: ServerResponse, end: () => void): void {
  let ended = false;
  // Pipelining is HTTP/1's alone (HTTP/2's compatibility API gives each stream a socket of its own).
  const pending = request.httpVersionMajor === 1 ? pendingOnSocket(request.socket) : undefined;
  const once = (): void => {
    if (ended) return;
    ended = true;
    pending?.delete(once);
    end();
  };
  pending?.add(once);
  response.once('close', once);
}

/**
 * Sets the status a request ends with, and marks it ended (it is logged and counted next). Its connection
 * closed with no reply made (info.status is set as a reply is written), or with one not all written
 * (writableFinished: all of it handed to the socket and taken by the kernel): none reached the client, a
 * client's doing, not the server's failure: CLIENT_GONE_STATUS. Its client left while the body was
 * arriving or the handler was at work (a push may be stored all the same: handlePush counted its events
 * as stored), or its reply was queued behind another on a pipelined connection that died: Node ends the
 * reply being written (its writes fail, 'finish' all the same), hands the dead socket to the next one,
 * which writes nothing and gets 'close' with all of it still buffered; the status its handler set never
 * reached anyone. (Under HTTP/2's compatibility API, a stream the client reset is writableFinished all
 * the same: there, only a reply not made is told.) Not the client's doing when the server cut it: a
 * handler still at work at the shutdown's bound (an upload still arriving is the client's slowness), an
 * error reply that could not be made (`dropped`): those stay failures (status 0).
 */
function endInfo(
  request: IncomingMessage,
  response: ServerResponse,
  info: RequestInfo,
  cut: { dropped: boolean; cutAtShutdown: boolean },
  logger: Logger,
): void {
  info.ended = true;
  const unsent = info.status === undefined || !response.writableFinished;
  const serverCut = cut.dropped || (cut.cutAtShutdown && info.status === undefined && request.complete);
  if (!unsent || serverCut || info.status === CLIENT_GONE_STATUS) return;
  // A server error it would have been answered with is still one for the operator.
  if (info.status !== undefined && info.status >= 500) logFailureAfterLeaving(logger, info, info.status);
  info.status = CLIENT_GONE_STATUS;
}

/** Calls `done` once both of the two calls it expects were made (a request's end and its handler's: see handler). */
function afterBoth(done: () => void): () => void {
  let waits = 2;
  return () => {
    if (--waits === 0) done();
  };
}

/** A handler's failure as its error reply; one that cannot be made drops the request (`failure.dropped`). */
function sendFailure(
  replier: Replier,
  logger: Logger,
  request: IncomingMessage,
  response: ServerResponse,
  error: unknown,
  failure: { dropped: boolean },
): void {
  try {
    replier.sendError(request, response, error);
  } catch (thrown) {
    // Never an unhandled rejection (it would end the process for every other request): the request is dropped.
    logger.error('could not send an error reply', { error: String(thrown) });
    failure.dropped = true;
    response.destroy();
  }
}

/** The requests of an HTTP/1 connection not ended yet; abandoned once it closed (see whenEnded). */
function pendingOnSocket(socket: Socket): Set<() => void> {
  let pending = pendingBySocket.get(socket);
  if (!pending) {
    const created = new Set<() => void>();
    pendingBySocket.set(socket, created);
    socket.once('close', () => {
      // After Node's own listeners have run (the response that had the socket emits 'close' from one, and a
      // response that got 'finish' as the socket died emits it on the next tick).
      setImmediate(() => {
        for (const abandon of created) abandon();
      });
    });
    pending = created;
  }
  return pending;
}
const pendingBySocket = new WeakMap<Socket, Set<() => void>>();

/**
 * The sync server: push, pull, fence and live over HTTP + WebSocket, with auth,
 * limits, CORS, bounded waits, metrics and graceful shutdown, over any LogStore.
 * This file wires the parts (http/*) together and owns the lifecycle.
 */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  const { store } = options;
  // Options that can be wrong fail before anything is started.
  const dataCheck = dataCheckOf(options.checkEvents);
  const liveAuthRecheckMs = liveAuthRecheckMsOf(options.liveAuthRecheckMs);
  const logger = neverThrowing(options.logger ?? consoleLogger);
  const limits = resolveLimits(options.limits);
  const timeouts = resolveTimeouts({
    ...(options.shutdownTimeoutMs ? { shutdownMs: options.shutdownTimeoutMs } : {}),
    ...options.timeouts,
  });
  const authenticate = resolveAuth(options.auth);
  const admission = createAdmission({
    authenticate,
    rateLimiter: limits.rateLimit ? createRateLimiter(limits.rateLimit) : undefined,
    rateLimitKey: options.rateLimitKey,
    authMs: timeouts.authMs,
  });
  const hub = createLiveHub(store, logger, options.livePingIntervalMs ?? 30_000, liveAuthRecheckMs, timeouts.replyMs);

  /** close() was called: replies say connection: close, /health says shutting-down, /ready is 503. */
  let closing = false;
  /** DRAIN_TURNS after close(): new requests get 503. */
  let refusing = false;
  let closePromise: Promise<void> | undefined;
  let cutAtShutdown = false; // close() cut the connections still open, its bound past
  let inFlight = 0;
  let drainedWaiters: (() => void)[] = [];
  let ownServer: Server | undefined;
  const attached = new Set<Server>();

  const replier = createReplier({ cors: options.cors === undefined ? { origins: '*' } : options.cors, logger, isClosing: () => closing });
  const metrics =
    options.metrics === false
      ? noMetrics
      : createMetrics(
          { liveSockets: () => hub.size, storeStats: () => store.stats?.() },
          {
            onMissing: (error) => logger.warn(`metrics off: ${error.message}`),
          },
        );
  const decoding = options.pushDecoding === false ? undefined : { ...DEFAULT_PUSH_DECODING, ...options.pushDecoding };
  const decoder =
    decoding && decoding.threads > 0 && store.pushDecoded
      ? createPushDecoder({ ...decoding, supported: SUPPORTED_PROTOCOL_VERSIONS, limits, logger })
      : undefined;
  const context: HandlerContext = { store, limits, timeouts, replier, metrics, logger, decoder, dataCheck };
  const live = createLiveUpgrades({
    context,
    admission,
    hub,
    isClosing: () => closing,
    corsHeaders: replier.corsHeaders,
    refused: (request, info) => finish(request, info),
    serve: (request, response) => handler(request, response),
  });

  if (!authenticate) {
    logger.warn(
      [
        '',
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
        '!!  chronicle-server: NO AUTHENTICATION IS CONFIGURED.                  !!',
        '!!  Anyone who can reach this server can read and write EVERY log.      !!',
        '!!  Configure bearer tokens (--tokens tokens.json) or an auth hook.     !!',
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      ].join('\n'),
    );
  }

  const settle = (): void => {
    inFlight--;
    if (inFlight === 0 && drainedWaiters.length) {
      const waiters = drainedWaiters;
      drainedWaiters = [];
      for (const w of waiters) w();
    }
  };

  const finish = createRequestFinisher({ logger, metrics, accessLog: options.accessLog === true });
  const connects = createConnectRefusals({ logger, corsHeaders: replier.corsHeaders, finished: (request, info) => finish(request, info) });

  const route = createRouter({
    context,
    admission,
    authenticated: authenticate !== undefined,
    state: { closing: () => closing, refusing: () => refusing },
  });

  const handler: SyncServer['handler'] = (request, response, next) => {
    const info = beginRequest(request, response);
    const failure = { dropped: false }; // by the server itself: its error reply could not be made
    inFlight++;
    // In flight until both its end (logged, counted) and its handler's: a client that left does not end a push
    // still committing, and close() lets that finish (up to shutdownMs) before it closes the store.
    const settleOne = afterBoth(settle);
    whenEnded(request, response, () => {
      settleOne();
      endInfo(request, response, info, { dropped: failure.dropped, cutAtShutdown }, logger);
      if (info.action !== 'next') finish(request, info);
    });
    // A reply sent before the body was read (refused early, too large): read and drop the rest, bounded,
    // so that the reply is not lost to a reset (see discardRest).
    response.once('finish', () => {
      if (!request.complete) discardRest(request, limits.maxDrainBytes, timeouts.drainMs);
    });
    watchReply(response, info, timeouts.replyMs, logger);
    const passOn = next
      ? () => {
          info.action = 'next';
          response.removeHeader('x-request-id');
          next();
        }
      : undefined;
    route(request, response, info, passOn)
      .catch((error: unknown) => sendFailure(replier, logger, request, response, error, failure))
      .finally(settleOne);
  };

  const clientErrorHandler: SyncServer['clientErrorHandler'] = (error, socket) =>
    handleClientError(
      error as Error & { code?: string },
      socket,
      limits.maxHeaderBytes,
      (id, reply) => finish(undefined, { id, start: performance.now(), status: reply.status, code: reply.code }),
      replier.anyOriginCorsHeaders(),
    );

  const attachWebSocket: SyncServer['attachWebSocket'] = (server) => {
    if (attached.has(server)) return;
    attached.add(server);
    server.on('upgrade', live.onUpgrade(server));
    live.prepare();
  };

  const listen: SyncServer['listen'] = (port, host = '127.0.0.1') => {
    if (ownServer) return Promise.reject(new Error('listen() was already called'));
    // A listener opened now would never be closed (close() returns its first call's promise) and would
    // answer every request 503 shutting-down, its store closed: refused, as a second listen() is.
    if (closing) return Promise.reject(new Error('listen() after close(): this server is closed; create a new one'));
    const server = createOwnServer(limits.maxHeaderBytes, timeouts, handler, clientErrorHandler, connects.onConnect);
    ownServer = server;
    attachWebSocket(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', acceptErrorLogger(logger));
        const address = server.address();
        const actualPort = typeof address === 'object' && address ? address.port : port;
        const shownHost = host.includes(':') ? `[${host}]` : host;
        resolve({ host, port: actualPort, url: `http://${shownHost}:${actualPort}` });
      });
    });
  };

  const close: SyncServer['close'] = () => {
    if (closePromise) return closePromise;
    closing = true;
    closePromise = (async () => {
      // 1. A request whose bytes were already in a socket (or whose connection was still in the
      //    accept queue) when close() was called is one "already received": a few turns of the event
      //    loop let the server accept, read and parse it, and it is served like any other. Closing the
      //    listener or idle connections at once would reset such a request.
      for (let turn = 0; turn < DRAIN_TURNS; turn++) await nextTurn();
      refusing = true;
      // No new connections. Open keep-alive connections stay until the end: a request that races the
      // shutdown on one gets a clean 503 (and connection: close) rather than a reset.
      // (http.Server#close would also close idle connections: the listener is closed through net.Server's.)
      const serverClosed = ownServer
        ? new Promise<void>((resolve) => NetServer.prototype.close.call(ownServer, () => resolve()))
        : Promise.resolve();
      // 2. Let requests in flight (pushes committing) finish, up to the timeout.
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeouts.shutdownMs);
          drainedWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // 3. Close live sockets and remaining connections.
      await hub.close();
      live.close();
      connects.close();
      cutAtShutdown = true;
      ownServer?.closeAllConnections();
      await serverClosed;
      // 4. The decoder threads and the store last: nothing uses them any more.
      await decoder?.close();
      if (options.closeStore !== false) await store.close();
    })();
    return closePromise;
  };

  return { handler, attachWebSocket, clientErrorHandler, listen, close, limits, timeouts };
}
