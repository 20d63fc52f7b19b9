import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, checkPrincipal, grants, type Authenticate, type Principal } from '../auth.ts';
import { SyncError } from '../errors.ts';
import type { RateLimiter } from '../limits.ts';
import { describeThrown } from '../../core/thrown.ts';
import { settleWithin } from './deadline.ts';
import type { LogRoute } from './routes.ts';

/**
 * Who may do what, in the order docs/protocol.md gives: authenticate (before
 * anything else is looked at, so an anonymous caller learns nothing about
 * routes or log names), then, once the route is known, spend a token of the
 * caller's request budget and authorise for the log. A request refused 401
 * spends a token of its peer address's budget, so credentials cannot be
 * guessed, nor a 403 probed for log names, faster than the rate limit.
 */
export interface Admission {
  authenticate(request: IncomingMessage): Promise<Principal>;
  /** Authorisation for the route's log (403) and the rate limit (429). */
  admit(request: IncomingMessage, principal: Principal, route: LogRoute): void;
  /**
   * For a live socket that is open: whether the request that opened it would
   * still be let in to read `log` (the auth hook asked again, with the same
   * request): `refused` with the 401 or 403 it would now get, `kept`, or
   * `unanswered` when the hook failed (a socket is not cut off for that).
   * Not bounded by authMs: the caller asks again only once this settled, so a
   * hook that hangs holds one call per socket, not one per interval. Spends
   * no rate budget.
   */
  recheck(request: IncomingMessage, log: string): Promise<LiveRecheckResult>;
}

export type LiveRecheckResult = { refused: SyncError } | { kept: true } | { unanswered: string };

function remoteKey(request: IncomingMessage): string {
  return `addr:${request.socket.remoteAddress ?? 'unknown'}`;
}

export function createAdmission(options: {
  authenticate: Authenticate | undefined;
  rateLimiter: RateLimiter | undefined;
  rateLimitKey: ((request: IncomingMessage, principal: Principal) => string) | undefined;
  /** How long an auth hook may take (timeouts.authMs). */
  authMs: number;
}): Admission {
  const { authenticate, rateLimiter, authMs } = options;
  const rateLimitKey =
    options.rateLimitKey ??
    ((request: IncomingMessage, principal: Principal) => (principal === ANONYMOUS ? remoteKey(request) : `principal:${principal.id}`));

  /** Spends a token of `key`'s budget: 429 when there is none. */
  const spend = (key: string): void => {
    const wait = rateLimiter?.take(key) ?? 0;
    if (wait > 0) throw new SyncError('RATE_LIMITED', `Too many requests; retry in ${wait} ms`, { retryAfterMs: wait });
  };
  /**
   * A refused request's 401, or 429 once its caller has spent its budget of refusals: a budget of its own
   * (the same size as a client's), keyed as an anonymous caller's request budget is (rateLimitKey: the peer
   * address by default, or the client address a proxy passes on when the server is told to read it).
   */
  const refuse = (request: IncomingMessage, error: SyncError): never => {
    spend(`refused:${rateLimitKey(request, ANONYMOUS)}`);
    throw error;
  };

  /** The hook's principal for `request` (bounded: a hook that never settles must not hold the request), or null. */
  const ask = async (hook: Authenticate, request: IncomingMessage): Promise<Principal | null> => {
    const asked = Promise.resolve().then(() => hook(request));
    const answer = await settleWithin(
      asked,
      authMs,
      () =>
        new SyncError('UNAVAILABLE', `The server's auth hook did not answer within ${authMs} ms`, {
          reason: 'auth-timeout',
          timeoutMs: authMs,
        }),
    );
    // Throws (a 500, logged with what is wrong) for anything but a principal or null.
    return checkPrincipal(answer);
  };
  const unauthenticated = () => new SyncError('UNAUTHORIZED', 'No valid credentials were presented', { reason: 'unauthenticated' });

  /** 403 unless `principal` may `need` the log. */
  const authorise = (principal: Principal, log: string, need: 'read' | 'write'): void => {
    if (!grants(need === 'write' ? principal.write : principal.read, log)) {
      throw new SyncError('FORBIDDEN', `"${principal.id}" may not ${need} log "${log}"`, {
        reason: `no-${need}-access`,
        log,
        principal: principal.id,
        need,
      });
    }
  };

  return {
    async authenticate(request) {
      if (!authenticate) return ANONYMOUS;
      let principal: Principal | null;
      try {
        principal = await ask(authenticate, request);
      } catch (error) {
        if (error instanceof SyncError && error.code === 'UNAUTHORIZED') refuse(request, error);
        throw error;
      }
      if (!principal) refuse(request, unauthenticated());
      return principal!;
    },

    admit(request, principal, route) {
      spend(rateLimitKey(request, principal));
      authorise(principal, route.log, route.action === 'push' || route.action === 'fence' ? 'write' : 'read');
    },

    async recheck(request, log) {
      if (!authenticate) return { kept: true };
      try {
        const principal = checkPrincipal(await authenticate(request));
        if (!principal) return { refused: unauthenticated() };
        authorise(principal, log, 'read');
        return { kept: true };
      } catch (error) {
        if (error instanceof SyncError && (error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN')) return { refused: error };
        return { unanswered: describeThrown(error) };
      }
    },
  };
}
