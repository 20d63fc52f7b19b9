import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SyncError } from '../errors.ts';

/**
 * Each request gets an id: the caller's `x-request-id` when it is a sane one
 * (so a proxy's id carries through), else a new UUID. It is echoed in the
 * reply's `x-request-id` header and in every log line about the request, so an
 * operator can find a client's failed request in the logs.
 */
export interface RequestInfo {
  id: string;
  /** performance.now() when the request arrived. */
  start: number;
  /** What was asked: "push", "pull", "fence", "live", "health"... */
  action?: string;
  log?: string;
  /** The status replied with; CLIENT_GONE_STATUS when the client left before the reply, or did not read it. */
  status?: number;
  /** The error code replied with, if any. */
  code?: string;
  /** The error's `details.reason`, if it gave one ("store-timeout", "store-permission"...); UNREAD_REPLY_REASON for a reply not read. */
  reason?: string;
  /** A 5xx error's message: what the operator reading the log needs (the client was told the same). */
  message?: string;
  /** Events in the push, once its body is read. */
  events?: number;
  /** The request was logged and counted (server.ts): what its handler does later is not in its line. */
  ended?: boolean;
}

/**
 * The status a request is logged and counted with when its connection closed before its reply was sent:
 * its client left while its body was still arriving (a phone that lost its network, an upload cut by the
 * shutdown timeout), while its handler was at work (a slow pull, a push still committing: such a push may
 * be stored all the same, and its events are counted as stored), or with its reply made but not written
 * (queued behind another on a pipelined connection that died). No reply reached the client. nginx's
 * "client closed request": a client's doing, in the 4xx class, never on the wire.
 */
export const CLIENT_GONE_STATUS = 499;

/**
 * The reason of a request whose reply the client did not read within timeouts.replyMs: the server closed its
 * connection (watchUnreadReply). Counted with CLIENT_GONE_STATUS too: no reply reached the client.
 */
export const UNREAD_REPLY_REASON = 'reply-unread';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const infos = new WeakMap<IncomingMessage, RequestInfo>();

export function beginRequest(request: IncomingMessage, response?: ServerResponse): RequestInfo {
  const given = request.headers['x-request-id'];
  const id = typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
  const info: RequestInfo = { id, start: performance.now() };
  infos.set(request, info);
  response?.setHeader('x-request-id', id);
  return info;
}

export function requestInfo(request: IncomingMessage): RequestInfo | undefined {
  return infos.get(request);
}

/** Records on the request's info the error it was answered with, for its log line and its metrics. */
export function noteError(info: RequestInfo, error: SyncError): void {
  info.code = error.code;
  if (typeof error.details.reason === 'string') info.reason = error.details.reason;
  if (error.status >= 500) info.message = error.message;
}
