import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROTOCOL_VERSION } from '../../core/protocol.ts';
import { grantsEveryLog, type Principal } from '../auth.ts';
import { SyncError } from '../errors.ts';
import type { HandlerContext } from './context.ts';
import { withDeadline } from './deadline.ts';
import { requestInfo } from './request-context.ts';

/**
 * The operator's endpoints: /health (liveness, no store access), /ready (the
 * store answers, within a bound) and /metrics (Prometheus text).
 */

function onlyGet(request: IncomingMessage, path: string): void {
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD')
    throw new SyncError('METHOD_NOT_ALLOWED', `${method} ${path} is not supported`, { allow: ['GET', 'HEAD'] });
}

export function handleHealth(context: HandlerContext, request: IncomingMessage, response: ServerResponse, closing: boolean): void {
  onlyGet(request, '/health');
  context.replier.send(
    request,
    response,
    200,
    JSON.stringify({ status: closing ? 'shutting-down' : 'ok', protocolVersion: PROTOCOL_VERSION }),
  );
}

export async function handleReady(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  closing: boolean,
): Promise<void> {
  onlyGet(request, '/ready');
  if (closing) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
  try {
    await withDeadline(context.store.ping(), context.timeouts.readyMs, 'readiness check');
  } catch (error) {
    // A schema mismatch or damage, or a missing privilege, says what to do about it; anything else is "the store does not answer".
    if (error instanceof SyncError && SAYS_WHAT_TO_DO.has(String(error.details.reason))) throw error;
    const cause = error instanceof Error ? error.message : String(error);
    throw new SyncError('UNAVAILABLE', `The log store is not reachable: ${cause}`, {
      reason: 'store-unreachable',
      store: context.store.kind,
      cause,
    });
  }
  context.replier.send(request, response, 200, JSON.stringify({ status: 'ready', store: context.store.kind, ...liveDetail(context) }));
}

/**
 * `live` in /ready's body, for a store with LISTEN connections: "degraded"
 * while one is down and reconnecting. Still 200: pushes and pulls work, and
 * taking the server out of rotation would not reach the sockets already open
 * on it (they hear of other processes' moves again once it is back and has
 * re-read their heads); a database refusing new connections would take every
 * server out at once.
 */
function liveDetail(context: HandlerContext): { live?: 'ok' | 'degraded' } {
  const listen = context.store.stats?.().listen;
  if (!listen) return {};
  return { live: listen.connected >= listen.total ? 'ok' : 'degraded' };
}

/** The reasons a failed readiness check passes on as they are: each says what to do about it. */
const SAYS_WHAT_TO_DO = new Set(['schema-mismatch', 'schema-damaged', 'store-permission']);

/**
 * GET /metrics. Open when the server has no auth; with auth, only for a
 * principal that may read every log (it names logs and their heads).
 */
export async function handleMetrics(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  authenticate: (() => Promise<Principal>) | undefined,
): Promise<void> {
  onlyGet(request, '/metrics');
  if (authenticate) {
    const principal = await authenticate();
    if (!grantsEveryLog(principal.read)) {
      throw new SyncError('FORBIDDEN', `"${principal.id}" may not read metrics (they need read access to every log)`, {
        reason: 'no-metrics-access',
        principal: principal.id,
      });
    }
  }
  const rendered = await context.metrics.render();
  if ('unavailable' in rendered) throw new SyncError('UNAVAILABLE', rendered.unavailable, { reason: 'metrics-unavailable' });
  if (response.headersSent) return;
  // The request's own status, for the request log and chronicle_http_requests_total (send() sets it for JSON replies).
  const info = requestInfo(request);
  if (info) info.status = 200;
  response.writeHead(200, {
    'content-type': rendered.contentType,
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(rendered.body)),
  });
  response.end(rendered.body);
}
