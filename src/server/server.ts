import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { utf8Length } from '../core/json-data.ts';
import {
  logNameSchema,
  PROTOCOL_VERSION,
  pullQuerySchema,
  pushRequestSchema,
  type PushResponse,
} from '../core/protocol.ts';
import { ANONYMOUS, grants, resolveAuth, type AuthOption, type Principal } from './auth.ts';
import { SyncError } from './errors.ts';
import { createRateLimiter, resolveLimits, type ServerLimits } from './limits.ts';
import { createLiveHub } from './live.ts';
import { consoleLogger, type Logger } from './logger.ts';
import { pullPageToJson, type LogStore } from './store/types.ts';
import { acceptPush } from './validate.ts';

export interface CorsOptions {
  /** Origins allowed to call the server from a browser: '*' (default) or a list of exact origins. */
  origins: '*' | readonly string[];
}

export interface SyncServerOptions {
  store: LogStore;
  /** An authenticate hook, or `{ tokens }` for the built-in bearer-token mode. Omit to allow everything (a warning is logged). */
  auth?: AuthOption;
  limits?: Partial<ServerLimits>;
  logger?: Logger;
  /** CORS for browser apps on other origins; false to send no CORS headers. Default: every origin. */
  cors?: CorsOptions | false;
  /** The key requests are rate limited by. Default: the principal's id, or the peer address for anonymous callers. */
  rateLimitKey?: (request: IncomingMessage, principal: Principal) => string;
  /** How long close() waits for requests in flight before closing connections anyway (default 10 s). */
  shutdownTimeoutMs?: number;
  /** Interval of WebSocket pings; a socket that missed one pong is dropped (default 30 s). */
  livePingIntervalMs?: number;
  /** Whether close() also closes the store (default true). */
  closeStore?: boolean;
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
  /** Creates an HTTP server with the handler and the live channel, and listens. Port 0 picks a free port. */
  listen(port: number, host?: string): Promise<ListenAddress>;
  /** Graceful shutdown: refuse new requests, finish those in flight, close sockets, then the store. */
  close(): Promise<void>;
  readonly limits: ServerLimits;
}

const ROUTE = /^\/v1\/logs\/([^/]+)\/(push|pull|live)\/?$/;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

interface Route {
  log: string;
  action: 'push' | 'pull' | 'live';
}

function matchRoute(pathname: string): Route | SyncError | undefined {
  const m = ROUTE.exec(pathname);
  if (!m) return undefined;
  let log: string;
  try {
    log = decodeURIComponent(m[1]!);
  } catch {
    return new SyncError('BAD_REQUEST', 'The log name in the path is not valid percent-encoding', { field: 'log' });
  }
  const parsed = logNameSchema.safeParse(log);
  if (!parsed.success) {
    return new SyncError('BAD_REQUEST', `Invalid log name "${log}": ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      field: 'log',
      log,
    });
  }
  return { log, action: m[2] as Route['action'] };
}

function zodDetails(issues: readonly { path: readonly PropertyKey[]; message: string }[]): {
  message: string;
  details: Record<string, unknown>;
} {
  const list = issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = list[0];
  return {
    message: first ? `${first.path || '(root)'}: ${first.message}` : 'invalid request',
    details: { issues: list },
  };
}

/** Reads a request body up to `max` bytes; refuses a larger one as soon as it is known to be larger. */
function readBody(request: IncomingMessage, max: number): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    return Promise.reject(
      new SyncError('PAYLOAD_TOO_LARGE', `The request body is ${declared} bytes; the limit is ${max}`, {
        limit: max,
        bytes: Number(declared),
        what: 'request',
      }),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        request.pause();
        reject(
          new SyncError('PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${max} bytes`, {
            limit: max,
            what: 'request',
          }),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => {
      cleanup();
      reject(new Error('request aborted'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
  });
}

function remoteKey(request: IncomingMessage): string {
  return `addr:${request.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * The sync server: push, pull and live over HTTP + WebSocket, with auth, limits,
 * CORS and graceful shutdown, over any LogStore.
 */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  const { store } = options;
  const logger = options.logger ?? consoleLogger;
  const limits = resolveLimits(options.limits);
  const authenticate = resolveAuth(options.auth);
  const cors = options.cors === undefined ? ({ origins: '*' } as CorsOptions) : options.cors;
  const rateLimiter = limits.rateLimit ? createRateLimiter(limits.rateLimit) : undefined;
  const rateLimitKey =
    options.rateLimitKey ??
    ((request: IncomingMessage, principal: Principal) =>
      principal === ANONYMOUS ? remoteKey(request) : `principal:${principal.id}`);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const hub = createLiveHub(store, logger, options.livePingIntervalMs ?? 30_000);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

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

  let closing = false;
  let closePromise: Promise<void> | undefined;
  let inFlight = 0;
  let drainedWaiters: (() => void)[] = [];
  let ownServer: Server | undefined;
  const attached = new Set<Server>();

  const settle = (): void => {
    inFlight--;
    if (inFlight === 0 && drainedWaiters.length) {
      const waiters = drainedWaiters;
      drainedWaiters = [];
      for (const w of waiters) w();
    }
  };

  const corsHeaders = (request: IncomingMessage): Record<string, string> => {
    if (!cors) return {};
    const origin = request.headers.origin;
    let allow: string | undefined;
    if (cors.origins === '*') allow = '*';
    else if (origin && cors.origins.includes(origin)) allow = origin;
    if (!allow) return {};
    const headers: Record<string, string> = {
      'access-control-allow-origin': allow,
      'access-control-expose-headers': 'retry-after, www-authenticate',
    };
    if (allow !== '*') headers.vary = 'origin';
    return headers;
  };

  const errorHeaders = (error: SyncError): Record<string, string> => {
    const headers: Record<string, string> = {};
    if (error.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="chronicle"';
    if (error.code === 'RATE_LIMITED' && typeof error.details.retryAfterMs === 'number') {
      headers['retry-after'] = String(Math.max(1, Math.ceil(error.details.retryAfterMs / 1000)));
    }
    if (error.code === 'METHOD_NOT_ALLOWED' && Array.isArray(error.details.allow)) {
      headers.allow = error.details.allow.join(', ');
    }
    return headers;
  };

  const toSyncError = (error: unknown): SyncError => {
    if (error instanceof SyncError) return error;
    logger.error('internal error', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    return new SyncError('INTERNAL', 'Internal server error', {});
  };

  const send = (request: IncomingMessage, response: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void => {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const headers: Record<string, string> = { ...JSON_HEADERS, ...corsHeaders(request), ...extra, 'content-length': String(Buffer.byteLength(body)) };
    // While shutting down, keep-alive clients are told to reconnect (to another process).
    if (closing) headers.connection = 'close';
    response.writeHead(status, headers);
    response.end(body);
  };

  const sendError = (request: IncomingMessage, response: ServerResponse, error: unknown): void => {
    const e = toSyncError(error);
    const extra = errorHeaders(e);
    // A body we did not read to its end (too large, or refused early) is not drained: close the connection.
    if (!request.complete) extra.connection = 'close';
    send(request, response, e.status, JSON.stringify(e.toBody()), extra);
  };

  /** Authentication, authorisation and rate limiting: the same for every log endpoint (HTTP and WebSocket). */
  const admit = async (request: IncomingMessage, route: Route): Promise<Principal> => {
    let principal: Principal | null = ANONYMOUS;
    if (authenticate) {
      principal = await authenticate(request);
      if (!principal) {
        throw new SyncError('UNAUTHORIZED', 'No valid credentials were presented', { reason: 'unauthenticated' });
      }
    }
    const need = route.action === 'push' ? 'write' : 'read';
    if (!grants(need === 'write' ? principal.write : principal.read, route.log)) {
      throw new SyncError('FORBIDDEN', `"${principal.id}" may not ${need} log "${route.log}"`, {
        reason: `no-${need}-access`,
        log: route.log,
        principal: principal.id,
        need,
      });
    }
    if (rateLimiter) {
      const wait = rateLimiter.take(rateLimitKey(request, principal));
      if (wait > 0) {
        throw new SyncError('RATE_LIMITED', `Too many requests; retry in ${wait} ms`, { retryAfterMs: wait });
      }
    }
    return principal;
  };

  const handlePush = async (request: IncomingMessage, response: ServerResponse, route: Route): Promise<void> => {
    const raw = await readBody(request, limits.maxRequestBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new SyncError('BAD_REQUEST', `The body is not valid JSON: ${(error as Error).message}`, {});
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SyncError('BAD_REQUEST', 'The body must be a JSON object', {});
    }
    const candidate = body as Record<string, unknown>;
    if (candidate.protocolVersion !== PROTOCOL_VERSION) {
      throw new SyncError(
        'UNSUPPORTED_PROTOCOL',
        `This server speaks protocol version ${PROTOCOL_VERSION}; the request says ${JSON.stringify(candidate.protocolVersion) ?? 'nothing'}`,
        { supported: [PROTOCOL_VERSION], received: candidate.protocolVersion ?? null },
      );
    }
    if (Array.isArray(candidate.events) && candidate.events.length > limits.maxEventsPerPush) {
      throw new SyncError(
        'PAYLOAD_TOO_LARGE',
        `The push holds ${candidate.events.length} events; the limit is ${limits.maxEventsPerPush}`,
        { what: 'events', count: candidate.events.length, limit: limits.maxEventsPerPush },
      );
    }
    // A valid push takes the fast check; anything it cannot vouch for goes to the schema, which decides and explains.
    let push = acceptPush(candidate);
    if (!push) {
      const parsed = pushRequestSchema.safeParse(body);
      if (!parsed.success) {
        const { message, details } = zodDetails(parsed.error.issues);
        throw new SyncError('BAD_REQUEST', `Invalid push: ${message}`, details);
      }
      push = parsed.data;
    }
    // The JSON of each event as validated: its size is checked here, and the store keeps it as is.
    const eventsJson = push.events.map((event) => JSON.stringify(event));
    push.events.forEach((event, index) => {
      const bytes = utf8Length(eventsJson[index]!);
      if (bytes > limits.maxEventBytes) {
        throw new SyncError(
          'PAYLOAD_TOO_LARGE',
          `Event ${index} (id ${event.id}) is ${bytes} bytes; the limit is ${limits.maxEventBytes}`,
          { what: 'event', index, id: event.id, clientSeq: event.meta.clientSeq, bytes, limit: limits.maxEventBytes },
        );
      }
    });
    const result = await store.push(route.log, push, { eventsJson });
    const reply: PushResponse = {
      positions: result.positions,
      duplicates: result.duplicates,
      clientSeq: result.clientSeq,
      head: result.head,
    };
    send(request, response, 200, JSON.stringify(reply));
  };

  const handlePull = async (request: IncomingMessage, response: ServerResponse, route: Route, url: URL): Promise<void> => {
    const query: Record<string, string> = {};
    for (const key of ['after', 'limit', 'clientId']) {
      const value = url.searchParams.get(key);
      if (value !== null) query[key] = value;
    }
    const parsed = pullQuerySchema.safeParse(query);
    if (!parsed.success) {
      const { message, details } = zodDetails(parsed.error.issues);
      throw new SyncError('BAD_REQUEST', `Invalid pull: ${message}`, details);
    }
    const { after, limit, clientId } = parsed.data;
    const page = await store.pull(route.log, { after, limit: Math.min(limit, limits.maxPullLimit), clientId });
    send(request, response, 200, pullPageToJson(page));
  };

  const route = async (request: IncomingMessage, response: ServerResponse, next?: () => void): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = url.pathname;

    if (method === 'OPTIONS' && (path === '/health' || path === '/ready' || ROUTE.test(path))) {
      const headers: Record<string, string> = { ...corsHeaders(request) };
      if (headers['access-control-allow-origin']) {
        headers['access-control-allow-methods'] = 'GET, POST, OPTIONS';
        headers['access-control-allow-headers'] =
          request.headers['access-control-request-headers'] ?? 'authorization, content-type';
        headers['access-control-max-age'] = '600';
      }
      response.writeHead(204, headers);
      response.end();
      return;
    }

    if (path === '/health') {
      if (method !== 'GET' && method !== 'HEAD') throw new SyncError('METHOD_NOT_ALLOWED', `${method} /health is not supported`, { allow: ['GET', 'HEAD'] });
      send(request, response, 200, JSON.stringify({ status: closing ? 'shutting-down' : 'ok', protocolVersion: PROTOCOL_VERSION }));
      return;
    }
    if (path === '/ready') {
      if (method !== 'GET' && method !== 'HEAD') throw new SyncError('METHOD_NOT_ALLOWED', `${method} /ready is not supported`, { allow: ['GET', 'HEAD'] });
      if (closing) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
      try {
        await store.ping();
      } catch (error) {
        throw new SyncError('UNAVAILABLE', `The log store is not reachable: ${(error as Error).message}`, { reason: 'store-unreachable', store: store.kind });
      }
      send(request, response, 200, JSON.stringify({ status: 'ready', store: store.kind }));
      return;
    }

    const matched = matchRoute(path);
    if (matched === undefined) {
      if (next) return next();
      throw new SyncError('NOT_FOUND', `No route for ${method} ${path}`, { path });
    }
    if (matched instanceof SyncError) throw matched;
    const allowed = matched.action === 'push' ? 'POST' : 'GET';
    if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) {
      throw new SyncError('METHOD_NOT_ALLOWED', `${method} is not supported on /${matched.action}; use ${allowed}`, { allow: [allowed] });
    }
    if (closing) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });

    await admit(request, matched);
    if (matched.action === 'push') return handlePush(request, response, matched);
    if (matched.action === 'pull') return handlePull(request, response, matched, url);
    throw new SyncError('BAD_REQUEST', 'The live channel is a WebSocket: send an Upgrade: websocket request', { reason: 'websocket-required' });
  };

  const handler: SyncServer['handler'] = (request, response, next) => {
    inFlight++;
    response.once('close', settle);
    route(request, response, next).catch((error: unknown) => sendError(request, response, error));
  };

  const rejectUpgrade = (request: IncomingMessage, socket: Duplex, error: SyncError): void => {
    const body = JSON.stringify(error.toBody());
    const headers = { ...JSON_HEADERS, ...corsHeaders(request), ...errorHeaders(error), connection: 'close', 'content-length': String(Buffer.byteLength(body)) };
    const head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`;
    socket.end(head + body);
  };

  const onUpgrade = (server: Server) => (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const matched = matchRoute(url.pathname);
    if (matched === undefined || (!(matched instanceof SyncError) && matched.action !== 'live')) {
      // Another upgrade listener on a shared server may want it.
      if (server.listenerCount('upgrade') > 1) return;
      rejectUpgrade(request, socket, new SyncError('NOT_FOUND', `No WebSocket endpoint at ${url.pathname}`, { path: url.pathname }));
      return;
    }
    socket.on('error', () => socket.destroy());
    const run = async (): Promise<void> => {
      if (matched instanceof SyncError) throw matched;
      if (closing) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
      await admit(request, matched);
      if (hub.size >= limits.maxLiveConnections) {
        throw new SyncError('UNAVAILABLE', 'Too many live connections on this server', { reason: 'too-many-connections', limit: limits.maxLiveConnections });
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        void hub.add(matched.log, ws);
      });
    };
    run().catch((error: unknown) => rejectUpgrade(request, socket, toSyncError(error)));
  };

  const attachWebSocket: SyncServer['attachWebSocket'] = (server) => {
    if (attached.has(server)) return;
    attached.add(server);
    server.on('upgrade', onUpgrade(server));
  };

  const listen: SyncServer['listen'] = (port, host = '127.0.0.1') => {
    if (ownServer) return Promise.reject(new Error('listen() was already called'));
    const server = createServer((request, response) => handler(request, response));
    ownServer = server;
    attachWebSocket(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
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
      // 1. Stop accepting connections; requests already in progress go on.
      const serverClosed = ownServer
        ? new Promise<void>((resolve) => ownServer!.close(() => resolve()))
        : Promise.resolve();
      ownServer?.closeIdleConnections();
      // 2. Let requests in flight (pushes committing) finish, up to the timeout.
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, shutdownTimeoutMs);
          drainedWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // 3. Close live sockets and remaining connections.
      await hub.close();
      wss.close();
      ownServer?.closeAllConnections();
      await serverClosed;
      // 4. The store last: nothing uses it any more.
      if (options.closeStore !== false) await store.close();
    })();
    return closePromise;
  };

  return { handler, attachWebSocket, listen, close, limits };
}
