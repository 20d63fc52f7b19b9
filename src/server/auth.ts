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
 * (the server replies 401). To say why, throw
 * `new SyncError('UNAUTHORIZED', message, { reason })`: the reply carries both.
 * May be async; one that has not settled within `timeouts.authMs` gets 503
 * (reason "auth-timeout"). What it returns is checked (checkPrincipal): a
 * grant written as a string other than "*" is a server error, never a grant.
 */
export type Authenticate = (request: IncomingMessage) => Principal | null | Promise<Principal | null>;

/** Bearer tokens and what each may do: `{ "s3cret": { "read": ["acme"], "write": ["acme"] } }`. */
export type TokenMap = Record<string, { id?: string; read?: LogGrant; write?: LogGrant }>;

export type AuthOption = Authenticate | { tokens: TokenMap };

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', read: '*', write: '*' });

export function grants(grant: LogGrant, log: string): boolean {
  if (grant === '*') return true;
  // A principal is checked where it is made (checkPrincipal); anything else that gets here grants nothing.
  if (!Array.isArray(grant)) return false;
  for (const entry of grant as readonly unknown[]) {
    if (typeof entry !== 'string') continue;
    if (entry === '*' || entry === log) return true;
    if (entry.endsWith('*') && log.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/** Whether a grant covers every log: '*', or a list holding the entry '*' (which grants() reads the same way). */
export function grantsEveryLog(grant: LogGrant): boolean {
  return grant === '*' || (Array.isArray(grant) && grant.includes('*'));
}

/** A grant as a principal must hold it, or undefined: '*' or an array of log names and prefixes; none given is none granted. */
function toGrant(value: unknown): LogGrant | undefined {
  if (value === undefined) return [];
  if (value === '*') return '*';
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value as string[];
  return undefined;
}

/**
 * What an auth hook returned, checked: a principal (a non-empty string id,
 * `read` and `write` each "*" or an array of log names), or null when the
 * request has no valid credentials. Anything else throws an Error that says
 * what is wrong with it: a grant such as `read: 'acme-*'` (a string, not a
 * list) must not be read character by character into "every log".
 */
export function checkPrincipal(value: unknown): Principal | null {
  // null, or any falsy answer (false, '', 0): no valid credentials, 401, as hooks written in JavaScript often say it.
  if (!value) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new Error(`the auth hook returned ${describe(value)}, not a principal or null`);
  const { id, read, write } = value as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0)
    throw new Error(`the auth hook returned a principal whose id is ${describe(id)}, not a non-empty string`);
  const readGrant = toGrant(read);
  const writeGrant = toGrant(write);
  for (const [key, given, grant] of [
    ['read', read, readGrant],
    ['write', write, writeGrant],
  ] as const) {
    if (grant === undefined)
      throw new Error(
        `the auth hook returned principal "${id}" whose ${key} is ${describe(given)}: it must be "*" or an array of log names`,
      );
  }
  return { ...(value as Principal), id, read: readGrant!, write: writeGrant! };
}

/** A value, briefly, for an error message (a hook's mistake, not a secret). */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The token of a request: `Authorization: Bearer <token>`, else `?token=<token>` (browsers cannot set WebSocket headers). */
export function requestToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match) return match[1]!.trim();
    throw new SyncError('UNAUTHORIZED', 'The Authorization header must be "Bearer <token>"', { reason: 'malformed-authorization' });
  }
  // Only the query string is read: a request line with a whole URL ("GET http://host:99999/...") is no
  // URL that new URL() accepts, and it must get 401, not a parse failure.
  const whole = request.url ?? '';
  const hash = whole.indexOf('#');
  // As the router reads the target: the fragment goes first, then the query is what follows '?'.
  const target = hash < 0 ? whole : whole.slice(0, hash);
  const query = target.indexOf('?');
  return query < 0 ? undefined : (new URLSearchParams(target.slice(query + 1)).get('token') ?? undefined);
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The built-in bearer-token mode. Tokens are kept hashed, and looked up by hash. */
export function bearerTokens(tokens: TokenMap): Authenticate {
  const byDigest = new Map<string, Principal>();
  let n = 0;
  // Tokens given in code are checked as a tokens file is: a grant of 'acme-*' (not ['acme-*']) is refused here.
  for (const [token, grant] of Object.entries(parseTokenMap(tokens))) {
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

/** A token as an Authorization header can carry it: visible ASCII, inner spaces allowed. */
const HEADER_TOKEN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Checks a token file's shape; returns the map or throws an Error that says what is wrong. */
export function parseTokenMap(value: unknown): TokenMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The tokens must be an object: { "<token>": { "read": [...], "write": [...] } }');
  }
  // Without a prototype: a token spelled "__proto__" (any string may be a token) is an entry like any other,
  // where on a plain object its assignment would replace the map's prototype and drop the token.
  const out: TokenMap = Object.create(null) as TokenMap;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new Error('no token is given: every request would be refused (401)');
  for (const [token, grant] of entries) {
    if (!token) throw new Error('an empty token ("") is not allowed: any request without credentials would match it');
    // What an Authorization header carries as sent: Node reads header bytes as Latin-1 (so "tök" never matches)
    // and the header's value is trimmed (so " pad " never does). Such a token could only fail, later, as a 401.
    if (!HEADER_TOKEN.test(token))
      throw new Error(`tokens["${token.slice(0, 4)}…"]: a token must be printable ASCII, without spaces at its ends`);
    if (typeof grant !== 'object' || grant === null) throw new Error(`tokens["${token.slice(0, 4)}…"] must be an object`);
    const g = grant as Record<string, unknown>;
    const unknown = Object.keys(g).find((key) => key !== 'id' && key !== 'read' && key !== 'write');
    // A misspelt grant ("wirte") would otherwise start a server that refuses that token's writes (403).
    if (unknown !== undefined)
      throw new Error(`tokens["${token.slice(0, 4)}…"] has an unknown key ${JSON.stringify(unknown.slice(0, 40))}: id, read and write are`);
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
