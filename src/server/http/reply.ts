import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { SyncError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { ClientGoneError } from './body.ts';
import { CLIENT_GONE_STATUS, noteError, requestInfo } from './request-context.ts';
import { logFailureAfterLeaving } from './request-log.ts';

/**
 * How the server answers: JSON bodies with the protocol's headers, CORS, and
 * every error as the documented error body (docs/protocol.md, Conventions).
 */

export interface CorsOptions {
  /** Origins allowed to call the server from a browser: '*' (default) or a list of exact origins. */
  origins: '*' | readonly string[];
}

export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

/** Headers an error reply carries besides the body: WWW-Authenticate, Retry-After, Allow, Accept-Encoding. */
export function errorHeaders(error: SyncError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="chronicle"';
  if (error.code === 'RATE_LIMITED' && typeof error.details.retryAfterMs === 'number') {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.details.retryAfterMs / 1000)));
  }
  if (error.code === 'UNAVAILABLE') headers['retry-after'] = '1';
  // RFC 9110, 15.5.16: a 415 for a content coding says which codings the server reads.
  if (error.code === 'UNSUPPORTED_MEDIA_TYPE' && error.details.header === 'content-encoding') headers['accept-encoding'] = 'identity';
  if (error.code === 'METHOD_NOT_ALLOWED' && Array.isArray(error.details.allow)) {
    headers.allow = error.details.allow.join(', ');
  }
  return headers;
}

/**
 * A complete HTTP/1.1 response as bytes, for places where Node gives a socket
 * and no response object (a refused WebSocket upgrade, a request Node could not
 * parse): the same status, headers and error body as any other error reply.
 */
export function rawErrorResponse(error: SyncError, extra: Record<string, string> = {}): string {
  const body = JSON.stringify(error.toBody());
  const headers = {
    ...JSON_HEADERS,
    ...errorHeaders(error),
    ...extra,
    connection: 'close',
    'content-length': String(Buffer.byteLength(body)),
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Ends a socket after writing `data`, without losing the data to a reset: the
 * peer may still be sending (a body, the rest of oversized headers), and
 * closing a socket with unread bytes makes the kernel send RST, which can
 * destroy the reply before the peer reads it. So the socket is half-closed and
 * whatever still arrives is read and dropped until the peer closes, or for at
 * most `lingerMs`.
 */
export function endAndLinger(socket: Duplex, data: string, lingerMs: number): void {
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', () => socket.destroy());
  socket.on('data', () => undefined);
  socket.end(data);
  socket.resume();
}

interface StreamHandle {
  writeQueueSize?: unknown;
  /** Under a TLS socket's handle (TLSWrap), the TCP handle its encrypted bytes go to. */
  _parent?: StreamHandle | null;
}

/**
 * What of a socket's output the kernel has not taken yet, as a mark that changes when it takes some: Node's
 * buffer (the write under way included) and, of that write, what libuv still holds (`writeQueueSize`, which
 * moves within one large write, a 9 MB reply written at once; Node's own socket.setTimeout reads it for the
 * same purpose, not to time out a write in progress). Under TLS, the TCP handle's too: the TLS handle's
 * count stays put while the encrypted bytes drain below it. These handles are Node's internals: where they
 * are missing, progress is still seen write by write.
 */
function unsentMark(socket: Duplex): string {
  const handle = (socket as Duplex & { _handle?: StreamHandle | null })._handle;
  return `${socket.writableLength}/${String(handle?.writeQueueSize)}/${String(handle?._parent?.writeQueueSize)}`;
}

/**
 * Bounds how long a reply may wait for a client that does not read it. Node bounds nothing on that side
 * (server.timeout is 0, keepAliveTimeout only concerns idle connections): once the kernel's buffers are
 * full, TCP's zero-window probes keep the connection alive, and the rest of the reply, its descriptor and
 * its socket are held for as long as the client likes; a few hundred such clients exhaust them.
 *
 * Called when all of the reply has been handed to its socket ('prefinish': ended, and its turn on the
 * connection has come, pipelined replies waiting for the ones ahead). From then on the network must take
 * some of it every `replyMs` (`unsentMark` changed since the last look, every replyMs), else the
 * connection is destroyed and `onUnread` called: a client that reads nothing is cut between replyMs and
 * twice that after the kernel stopped taking its bytes. The rule is on progress, not on the whole reply
 * (as nginx's send_timeout): a pull page is up to about 9 MB (PULL_MAX_BYTES and a page), which takes
 * 30 s at 2.4 Mbit/s, more than a phone on a weak network has; cut, its client would ask for the same page
 * again and be cut again, for good. A reader makes progress however slowly it reads (the kernel wakes the
 * writer each time a third of its send buffer is free: seconds, at worst, for a slow reader). Timers are
 * unref'd, and stop at 'finish' (all of it taken by the kernel) or 'close'.
 */
export function watchUnreadReply(response: ServerResponse, replyMs: number, onUnread: () => void): void {
  const socket = response.socket;
  if (!socket || response.writableFinished || response.destroyed) return;
  let mark = unsentMark(socket);
  const timer = setTimeout(function look() {
    if (response.writableFinished || response.destroyed || socket.destroyed) return;
    const now = unsentMark(socket);
    if (now !== mark) {
      mark = now;
      timer.refresh();
      return;
    }
    onUnread();
    response.destroy();
  }, replyMs);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  response.once('finish', stop);
  response.once('close', stop);
}

export interface Replier {
  corsHeaders(request: IncomingMessage): Record<string, string>;
  /**
   * For a reply to a request Node could not parse (its Origin is unknown): the
   * CORS headers when every origin is allowed, else none.
   */
  anyOriginCorsHeaders(): Record<string, string>;
  /** A SyncError as it is; anything else is logged and becomes a bare 500 INTERNAL (nothing about it is revealed). */
  toSyncError(error: unknown, request?: IncomingMessage): SyncError;
  send(request: IncomingMessage, response: ServerResponse, status: number, body: string, extra?: Record<string, string>): void;
  sendError(request: IncomingMessage, response: ServerResponse, error: unknown): void;
}

/** Whether an error reply can be made of this SyncError: a known status and details that serialise. */
function isSendable(error: SyncError): boolean {
  if (!Number.isInteger(error.status) || STATUS_CODES[error.status] === undefined) return false;
  try {
    JSON.stringify(error.toBody());
    return true;
  } catch {
    return false;
  }
}

export function createReplier(options: { cors: CorsOptions | false; logger: Logger; isClosing: () => boolean }): Replier {
  const { cors, logger } = options;

  const corsHeaders = (request: IncomingMessage | undefined): Record<string, string> => {
    if (!cors) return {};
    const origin = request?.headers.origin;
    let allow: string | undefined;
    if (cors.origins === '*') allow = '*';
    else if (origin && cors.origins.includes(origin)) allow = origin;
    if (!allow) return {};
    const headers: Record<string, string> = {
      'access-control-allow-origin': allow,
      'access-control-expose-headers': 'preference-applied, retry-after, www-authenticate, x-request-id',
    };
    if (allow !== '*') headers.vary = 'origin';
    return headers;
  };

  const toSyncError = (error: unknown, request?: IncomingMessage): SyncError => {
    // A SyncError made by app code (an auth hook) may have a code the protocol does not know, or details
    // that are not JSON (a BigInt): replying with it would throw, and nothing would answer the request.
    if (error instanceof SyncError && isSendable(error)) return error;
    logger.error('internal error', {
      requestId: request ? requestInfo(request)?.id : undefined,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return new SyncError('INTERNAL', 'Internal server error', {});
  };

  /** Writes the reply; whether the connection stays open is decided here (see send). */
  const write = (request: IncomingMessage, response: ServerResponse, status: number, body: string, extra: Record<string, string>): void => {
    // The client left while the reply waited a turn (send): nothing can reach it (server.ts counts it as gone).
    if (response.destroyed && !response.headersSent) return;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const headers: Record<string, string> = {
      ...JSON_HEADERS,
      ...corsHeaders(request),
      ...extra,
      'content-length': String(Buffer.byteLength(body)),
    };
    if (!request.complete) {
      // Replying while the body is still arriving (refused early, too large): the connection must outlive
      // the reply until the rest of the body has arrived (read and dropped, bounded: see discardRest), even
      // if the client asked for Connection: close. Closing it with the body still arriving makes the
      // kernel reset it, and a client that sends before it reads (curl) loses the reply.
      response.shouldKeepAlive = true;
    } else if (options.isClosing()) {
      // While shutting down, keep-alive clients are told to reconnect (to another process).
      headers.connection = 'close';
    }
    const info = requestInfo(request);
    if (info) info.status = status;
    response.writeHead(status, headers);
    response.end(body);
  };

  const send: Replier['send'] = (request, response, status, body, extra = {}) => {
    if (request.complete || response.headersSent) {
      write(request, response, status, body, extra);
      return;
    }
    // A handler that answers before it reads the body (a refusal) runs while Node is still parsing the
    // bytes that brought the request: the end of a request without a body, or a body sent with its
    // headers, is read only after it, and until then request.complete is false although nothing more is
    // to come. A turn of the event loop later those bytes are parsed: request.complete then tells a request
    // that has arrived whole (whose Connection: close, HTTP/1.0 or the shutdown's connection: close is
    // honoured) from one whose body is still on its way.
    setImmediate(() => write(request, response, status, body, extra));
  };

  const sendError: Replier['sendError'] = (request, response, error) => {
    // Its connection is closed: no reply can reach it, and it is no internal error (server.ts logs and
    // counts the request as the client's leaving).
    if (error instanceof ClientGoneError) return;
    const e = toSyncError(error, request);
    const info = requestInfo(request);
    if (info) {
      noteError(info, e);
      // The client left while the handler was at work: the request was already logged and counted as its
      // leaving (server.ts), and nothing will be sent; a server error is still the operator's business
      // (one that is no SyncError, toSyncError has just logged).
      if (info.ended && info.status === CLIENT_GONE_STATUS && e === error && e.status >= 500) {
        logFailureAfterLeaving(logger, info, e.status);
      }
    }
    send(request, response, e.status, JSON.stringify(e.toBody()), errorHeaders(e));
  };

  return { corsHeaders, anyOriginCorsHeaders: () => corsHeaders(undefined), toSyncError, send, sendError };
}
