import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, grants, type Authenticate, type Principal } from '../auth.ts';
import { SyncError } from '../errors.ts';
import type { RateLimiter } from '../limits.ts';
import type { LogRoute } from './routes.ts';

/**
 * Who may do what, in the order docs/protocol.md gives: authenticate (before
 * anything else is looked at, so an anonymous caller learns nothing about
 * routes or log names), then, once the route is known, authorise for the log
 * and spend a token of the caller's request budget.
 */
export interface Admission {
  authenticate(request: IncomingMessage): Promise<Principal>;
  /** Authorisation for the route's log (403) and the rate limit (429). */
  admit(request: IncomingMessage, principal: Principal, route: LogRoute): void;
}

function remoteKey(request: IncomingMessage): string {
  return `addr:${request.socket.remoteAddress ?? 'unknown'}`;
}

export function createAdmission(options: {
  authenticate: Authenticate | undefined;
  rateLimiter: RateLimiter | undefined;
  rateLimitKey: ((request: IncomingMessage, principal: Principal) => string) | undefined;
}): Admission {
  const { authenticate, rateLimiter } = options;
  const rateLimitKey =
    options.rateLimitKey ??
    ((request: IncomingMessage, principal: Principal) => (principal === ANONYMOUS ? remoteKey(request) : `principal:${principal.id}`));

  return {
    async authenticate(request) {
      if (!authenticate) return ANONYMOUS;
      const principal = await authenticate(request);
      if (!principal) throw new SyncError('UNAUTHORIZED', 'No valid credentials were presented', { reason: 'unauthenticated' });
      return principal;
    },

    admit(request, principal, route) {
      const need = route.action === 'push' || route.action === 'fence' ? 'write' : 'read';
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
        if (wait > 0) throw new SyncError('RATE_LIMITED', `Too many requests; retry in ${wait} ms`, { retryAfterMs: wait });
      }
    },
  };
}
