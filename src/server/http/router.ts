import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncError } from '../errors.ts';
import type { Admission } from './admit.ts';
import type { HandlerContext } from './context.ts';
import { handleHealth, handleMetrics, handleReady } from './ops.ts';
import { handlePull } from './pull.ts';
import { handleFence, handlePush } from './push.ts';
import type { RequestInfo } from './request-context.ts';
import { ACTION_METHOD, LOG_PREFIX, matchLogRoute, parseTarget } from './routes.ts';

/**
 * Which handler answers a request. For the protocol's paths (under
 * /v1/logs/) authentication comes before anything else is looked at (docs/protocol.md,
 * Conventions); /health, /ready and /metrics and CORS preflights come first;
 * other paths go to `next` (the app the server is mounted in) or get 404.
 */
export function createRouter(options: {
  context: HandlerContext;
  admission: Admission;
  /** Whether the server has auth configured (then /metrics needs credentials). */
  authenticated: boolean;
  state: { closing(): boolean; refusing(): boolean };
}) {
  const { context, admission, authenticated, state } = options;
  const { replier } = context;
  /** The routes, in the order docs/protocol.md gives: authentication before anything else is looked at. */
  return async (request: IncomingMessage, response: ServerResponse, info: RequestInfo, next?: () => void): Promise<void> => {
    // HTTP/1.1 requires Host (RFC 9112, 3.2); the server's own listener leaves the check here so that the
    // refusal carries the protocol's error body, not Node's bare status line.
    if (request.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new SyncError('BAD_REQUEST', 'An HTTP/1.1 request needs a Host header', { reason: 'missing-host' });
    }
    const target = parseTarget(request.url);
    const { path } = target;
    const method = request.method ?? 'GET';
    const isOps = path === '/health' || path === '/ready' || path === '/metrics';
    const isLog = path.startsWith(LOG_PREFIX);

    if (method === 'OPTIONS' && (isOps || isLog)) {
      info.action = 'preflight';
      const headers: Record<string, string> = { ...replier.corsHeaders(request) };
      if (headers['access-control-allow-origin']) {
        headers['access-control-allow-methods'] = 'GET, POST, OPTIONS';
        headers['access-control-allow-headers'] = request.headers['access-control-request-headers'] ?? 'authorization, content-type';
        headers['access-control-max-age'] = '600';
      }
      info.status = 204;
      response.writeHead(204, headers);
      response.end();
      return;
    }
    if (path === '/health') {
      info.action = 'health';
      return handleHealth(context, request, response, state.closing());
    }
    if (path === '/ready') {
      info.action = 'ready';
      return handleReady(context, request, response, state.closing());
    }
    if (path === '/metrics') {
      info.action = 'metrics';
      return handleMetrics(context, request, response, authenticated ? () => admission.authenticate(request) : undefined);
    }
    if (!isLog) {
      if (next) return next();
      throw new SyncError('NOT_FOUND', `No route for ${method} ${path.slice(0, 200)}`, { path: path.slice(0, 200) });
    }

    const principal = await admission.authenticate(request);
    if (state.refusing()) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
    const matched = matchLogRoute(path);
    if (matched instanceof SyncError) throw matched;
    if (matched === undefined)
      throw new SyncError('NOT_FOUND', `No route for ${method} ${path.slice(0, 200)}`, { path: path.slice(0, 200) });
    info.action = matched.action;
    info.log = matched.log;
    const allowed = ACTION_METHOD[matched.action];
    if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) {
      throw new SyncError('METHOD_NOT_ALLOWED', `${method} is not supported on /${matched.action}; use ${allowed}`, {
        allow: allowed === 'GET' ? ['GET', 'HEAD'] : [allowed],
      });
    }
    admission.admit(request, principal, matched);
    switch (matched.action) {
      case 'push':
        return handlePush(context, request, response, matched);
      case 'fence':
        return handleFence(context, request, response, matched);
      case 'pull':
        return handlePull(context, request, response, matched, target);
      case 'live':
        throw new SyncError('BAD_REQUEST', 'The live channel is a WebSocket: send an Upgrade: websocket request', {
          reason: 'websocket-required',
        });
    }
  };
}
