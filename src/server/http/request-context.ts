import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

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
  status?: number;
  /** The error code replied with, if any. */
  code?: string;
  /** Events in the push, once its body is read. */
  events?: number;
}

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
