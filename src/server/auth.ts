import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SyncError } from './errors.ts';

/**
 * Which logs a caller may read (pull, live) and write (push). Each entry is a
 * log name, a prefix ending in "*" ("acme-*"), or the list is '*' for every log.
 */
export type LogGrant = '*' | readonly string[];

export interface Principal {
  /** Who this is, for logs and per-client rate limiting. */
  id: string;
  read: LogGrant;
  write: LogGrant;
}

/**
 * Maps a request to a principal, or null when it carries no valid credentials
 * (the server replies 401). To give a more precise reason, throw
 * `new SyncError('UNAUTHORIZED', reason)`. May be async.
 */
export type Authenticate = (request: IncomingMessage) => Principal | null | Promise<Principal | null>;

/** Bearer tokens and what each may do: `{ "s3cret": { "read": ["acme"], "write": ["acme"] } }`. */
export type TokenMap = Record<string, { id?: string; read?: LogGrant; write?: LogGrant }>;

export type AuthOption = Authenticate | { tokens: TokenMap };

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', read: '*', write: '*' });

export function grants(grant: LogGrant, log: string): boolean {
  if (grant === '*') return true;
  for (const entry of grant) {
    if (entry === '*' || entry === log) return true;
    if (entry.endsWith('*') && log.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/** Whether a grant covers every log: '*', or a list holding the entry '*' (which grants() reads the same way). */
export function grantsEveryLog(grant: LogGrant): boolean {
  return grant === '*' || grant.includes('*');
}

/** The token of a request: `Authorization: Bearer <token>`, else `?token=<token>` (browsers cannot set WebSocket headers). */
export function requestToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match) return match[1]!.trim();
    throw new SyncError('UNAUTHORIZED', 'The Authorization header must be "Bearer <token>"', { reason: 'malformed-authorization' });
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The built-in bearer-token mode. Tokens are kept hashed, and looked up by hash. */
export function bearerTokens(tokens: TokenMap): Authenticate {
  const byDigest = new Map<string, Principal>();
  let n = 0;
  for (const [token, grant] of Object.entries(tokens)) {
    if (!token) throw new Error('An empty bearer token is not allowed');
    n++;
    byDigest.set(digest(token), {
      id: grant.id ?? `token-${n}`,
      read: grant.read ?? [],
      write: grant.write ?? [],
    });
  }
  return (request) => {
    const token = requestToken(request);
    if (!token) {
      throw new SyncError('UNAUTHORIZED', 'No credentials: send "Authorization: Bearer <token>" or ?token=<token>', {
        reason: 'missing-token',
      });
    }
    const principal = byDigest.get(digest(token));
    if (!principal) throw new SyncError('UNAUTHORIZED', 'The bearer token is not known to this server', { reason: 'invalid-token' });
    return principal;
  };
}

/** Checks a token file's shape; returns the map or throws an Error that says what is wrong. */
export function parseTokenMap(value: unknown): TokenMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The tokens file must hold an object: { "<token>": { "read": [...], "write": [...] } }');
  }
  const out: TokenMap = {};
  for (const [token, grant] of Object.entries(value as Record<string, unknown>)) {
    if (!token) throw new Error('an empty token ("") is not allowed: any request without credentials would match it');
    if (typeof grant !== 'object' || grant === null) throw new Error(`tokens["${token.slice(0, 4)}…"] must be an object`);
    const g = grant as Record<string, unknown>;
    const list = (key: 'read' | 'write'): LogGrant => {
      const v = g[key];
      if (v === undefined) return [];
      if (v === '*') return '*';
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      throw new Error(`tokens["${token.slice(0, 4)}…"].${key} must be "*" or an array of log names`);
    };
    const id = g.id;
    if (id !== undefined && typeof id !== 'string') throw new Error(`tokens["${token.slice(0, 4)}…"].id must be a string`);
    out[token] = { ...(id === undefined ? {} : { id }), read: list('read'), write: list('write') };
  }
  return out;
}

export function resolveAuth(option: AuthOption | undefined): Authenticate | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'function') return option;
  return bearerTokens(option.tokens);
}
