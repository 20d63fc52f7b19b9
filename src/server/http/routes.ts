import { logNameSchema } from '../../core/protocol.ts';
import { SyncError } from '../errors.ts';

/**
 * Which endpoint a request is for, read from the raw request target.
 *
 * The path is taken as sent, never normalised: `new URL()` would resolve
 * `/v1/logs/s/../t/push` to `/v1/logs/t/push` and store into log `t`. A dot
 * segment, raw or percent-encoded, anywhere under /v1/logs/ is refused
 * (400, field "log") instead.
 */

export type LogAction = 'push' | 'pull' | 'live' | 'fence';

export interface LogRoute {
  log: string;
  action: LogAction;
}

/** The protocol's endpoints live under this prefix; everything under it is authenticated first. */
export const LOG_PREFIX = '/v1/logs/';

const ACTIONS: ReadonlySet<string> = new Set<LogAction>(['push', 'pull', 'live', 'fence']);

/** The method each action takes (HEAD is allowed wherever GET is). */
export const ACTION_METHOD: Record<LogAction, 'GET' | 'POST'> = { push: 'POST', fence: 'POST', pull: 'GET', live: 'GET' };

export interface RequestTarget {
  /** The path exactly as sent (percent-encoding and dot segments kept). */
  path: string;
  query: URLSearchParams;
  /**
   * Parameters whose value is not valid percent-encoded UTF-8 (`%FF`, an
   * encoded lone surrogate): URLSearchParams reads those bytes as U+FFFD,
   * which would answer for another value than the one sent.
   */
  badlyEncoded: ReadonlySet<string>;
}

/** The text of percent-encoded UTF-8 (`+` is a space), or undefined when it is not valid. */
function strictDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function badlyEncodedParameters(rawQuery: string): Set<string> {
  const bad = new Set<string>();
  if (!rawQuery.includes('%')) return bad;
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const name = strictDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (name !== undefined && eq >= 0 && strictDecode(pair.slice(eq + 1)) === undefined) bad.add(name);
  }
  return bad;
}

/** Splits a request target (origin-form, or absolute-form as proxies send it) into raw path and query. */
export function parseTarget(target: string | undefined): RequestTarget {
  let raw = target ?? '/';
  if (!raw.startsWith('/')) {
    // absolute-form (http://host/path?q): keep the path as sent, after the authority.
    const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(raw);
    raw = match?.[1] || '/';
  }
  const hash = raw.indexOf('#');
  if (hash >= 0) raw = raw.slice(0, hash);
  const q = raw.indexOf('?');
  const rawQuery = q < 0 ? '' : raw.slice(q + 1);
  return { path: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(rawQuery), badlyEncoded: badlyEncodedParameters(rawQuery) };
}

const shown = (text: string): string => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

const badLog = (message: string, log: string): SyncError => new SyncError('BAD_REQUEST', message, { field: 'log', log: shown(log) });

const isDotSegment = (segment: string): boolean => /^(\.|%2e){1,2}$/i.test(segment);

/**
 * The log route of a path under LOG_PREFIX: `{ log, action }`, a SyncError
 * (400 with `field: "log"` for a bad log name or a dot segment), or undefined
 * when it names no action (404).
 */
export function matchLogRoute(path: string): LogRoute | SyncError | undefined {
  if (!path.startsWith(LOG_PREFIX)) return undefined;
  const segments = path.slice(LOG_PREFIX.length).split('/');
  if (segments.some(isDotSegment)) return badLog('A log path must not contain "." or ".." segments', path);
  if (segments.length === 3 && segments[2] === '') segments.pop(); // a trailing slash
  if (segments.length !== 2) return undefined;
  const [encoded, action] = segments as [string, string];
  if (!ACTIONS.has(action)) return undefined;
  let log: string;
  try {
    log = decodeURIComponent(encoded);
  } catch {
    return badLog('The log name in the path is not valid percent-encoding', encoded);
  }
  const parsed = logNameSchema.safeParse(log);
  if (!parsed.success) return badLog(`Invalid log name "${shown(log)}": ${parsed.error.issues[0]?.message ?? 'invalid'}`, log);
  return { log, action: action as LogAction };
}
