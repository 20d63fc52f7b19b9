import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger.ts';
import type { MetricsRecorder } from '../metrics.ts';
import { CLIENT_GONE_STATUS, UNREAD_REPLY_REASON, type RequestInfo } from './request-context.ts';
import { parseTarget } from './routes.ts';

/**
 * Refusals that repeat, word for word, until the server is set up otherwise:
 * /metrics without prom-client (or with metrics off, or a prom-client that
 * fails to load), the live channel without ws. Each distinct one is logged as
 * a warning the first time only: a scraper or a client that keeps asking
 * would otherwise write an error line every few seconds, forever. Keyed on
 * the message too, so that "metrics are still loading" just after the start
 * does not hide the failure that may follow it.
 */
const SETUP_REASONS = new Set(['metrics-unavailable', 'live-unavailable']);
/** 503s of a log move (docs/scale-out.md): pushes wait for it, a warning rather than an error. */
const MOVE_REASONS = new Set(['log-moving', 'log-moved']);
/** Distinct set-up refusals remembered as logged; past this many, each is logged again (a bound, not expected). */
const MAX_SETUP_REFUSALS = 100;

/**
 * How a request ends: in the metrics, and in one log line when it was refused
 * or failed (every request with `accessLog`, also one whose client left before
 * the reply, CLIENT_GONE_STATUS), with its id, the error's code,
 * its reason and, for a 5xx, its message (what an operator needs to act on a
 * 503 without reproducing it). `request` is absent for one Node could not
 * parse (clientError).
 */
export function createRequestFinisher(options: { logger: Logger; metrics: MetricsRecorder; accessLog: boolean }) {
  const { logger, metrics, accessLog } = options;
  const setupRefusalsLogged = new Set<string>();
  return (request: IncomingMessage | undefined, info: RequestInfo): void => {
    const status = info.status ?? 0;
    const seconds = (performance.now() - info.start) / 1000;
    metrics.request(info.action ?? 'other', status, info.code, seconds, info.events ?? 0);
    // A client that left mid-request (a phone that lost its network) is no refusal and no failure: nothing
    // was answered or stored, and nothing for the operator to do. Listed with the access log only.
    if ((status < 400 || status === CLIENT_GONE_STATUS) && !accessLog) return;
    const fields = {
      requestId: info.id,
      method: request?.method,
      path: request ? parseTarget(request.url).path.slice(0, 200) : undefined,
      action: info.action,
      log: info.log,
      status,
      code: info.code,
      reason: info.reason,
      message: info.message,
      ms: Math.round(seconds * 1000),
    };
    if (status === CLIENT_GONE_STATUS) {
      // (A reply not read was logged as a warning when its connection was closed: this is its access-log line.)
      if (info.reason === UNREAD_REPLY_REASON) logger.info('request abandoned: the client did not read the reply', fields);
      else logger.info('request abandoned: the client closed the connection before the reply', fields);
      return;
    }
    if (info.reason !== undefined && SETUP_REASONS.has(info.reason)) {
      const refusal = `${info.reason}\u0000${info.message ?? ''}`;
      if (!setupRefusalsLogged.has(refusal)) {
        if (setupRefusalsLogged.size < MAX_SETUP_REFUSALS) setupRefusalsLogged.add(refusal);
        logger.warn("request refused by the server's set-up (logged once; the same refusals that follow are not)", fields);
      } else if (accessLog) logger.info('request refused', fields);
      return;
    }
    // A log being moved refuses writes for a while by design: the clients retry; not an error of the server's.
    if (info.reason !== undefined && MOVE_REASONS.has(info.reason)) logger.warn('request refused during a log move', fields);
    else if (status >= 500 || status === 0) logger.error('request failed', fields);
    else if (status >= 400) logger.info('request refused', fields);
    else logger.info('request', fields);
  };
}

/**
 * A server error (5xx) of a request whose client had left before the reply: the request is logged and
 * counted as CLIENT_GONE_STATUS (no reply reached anyone), and the failure on a line of its own, an error
 * all the same (a store that times out does so for the clients still there too). One that is no SyncError
 * is logged by Replier.toSyncError instead ("internal error", with the request's id and the stack).
 */
export function logFailureAfterLeaving(logger: Logger, info: RequestInfo, status: number): void {
  logger.error('request failed after its client left (no reply was sent)', {
    requestId: info.id,
    action: info.action,
    log: info.log,
    status,
    code: info.code,
    reason: info.reason,
    message: info.message,
  });
}
