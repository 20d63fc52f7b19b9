/**
 * What a string must be for every store to keep it as it is: the one rule the
 * client (at append) and the server (on every push and query parameter) share.
 *
 * PostgreSQL's `text` cannot hold U+0000, and its `jsonb` refuses both `\u0000`
 * and a lone surrogate (half of a UTF-16 pair, e.g. a cut emoji). IndexedDB
 * takes both, so without this rule an event is accepted locally and then
 * refused by the server forever.
 */

/** A log (tenant) name: what a URL path segment holds unescaped; 1 to 64 characters. */
export const LOG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isLogName(value: unknown): value is string {
  return typeof value === 'string' && LOG_NAME_PATTERN.test(value);
}

/**
 * A bearer token an HTTP header can carry: printable ASCII (spaces inside), not empty. Whitespace around it
 * is allowed, since fetch strips it (a token read from a file with its newline works); a line break or a
 * character outside ASCII inside it makes fetch refuse the request, which reads as the server unreachable.
 */
export function isHeaderToken(token: unknown): token is string {
  return typeof token === 'string' && /^[ \t\r\n]*[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?[ \t\r\n]*$/.test(token);
}

/** Upper bound for identifiers (ids, aggregate ids and types, event types, client ids). */
export const MAX_ID_LENGTH = 128;

/**
 * How deeply event data may nest (objects and arrays). Real payloads nest a
 * few levels; the bound keeps every walk over data (validation,
 * JSON.stringify, PostgreSQL's jsonb) far from a stack overflow.
 */
export const MAX_DATA_DEPTH = 64;

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored, or undefined when it can. */
export function findStringProblem(text: string): string | undefined {
  const match = UNSTORABLE.exec(text);
  if (!match) return undefined;
  const what = match[0] === '\u0000' ? 'a NUL character (U+0000)' : 'a lone surrogate (half of a UTF-16 pair)';
  return `contains ${what} at index ${match.index}`;
}

/** True when every store can keep `text` exactly. */
export function isStorableString(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * Why `value` is not a valid link (an event's `meta.correlationId` or `meta.causationId`), or undefined when
 * it is one: a storable string of at most MAX_ID_LENGTH characters. Unlike an id, it may be empty.
 */
export function findLinkProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string (got ${value === null ? 'null' : typeof value})`;
  if (value.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`;
  return findStringProblem(value);
}

/** Why `value` is not a valid identifier, or undefined when it is one: a link that is not empty. */
export function findIdProblem(value: unknown): string | undefined {
  return value === '' ? 'must not be empty' : findLinkProblem(value);
}

/** True when `value` is a valid identifier: a storable string of 1 to MAX_ID_LENGTH characters. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH && !UNSTORABLE.test(value);
}

/** A sync server's base URL: http or https, as both the client's options check and the engine accept it. */
export function isHttpUrl(value: unknown): value is string {
  return typeof value === 'string' && /^https?:\/\/[^\s/?#]+/i.test(value);
}

/**
 * A name as an error message shows it: a valid one as it is; any other string quoted as JSON (a NUL or a
 * lone surrogate shows as its escape) and cut after 40 characters (a 10,000-character name is not
 * repeated in full); anything else as String() shows it.
 */
export function showName(value: unknown): string {
  if (typeof value !== 'string') {
    try {
      return String(value);
    } catch {
      return typeof value; // Object.create(null) has no toString
    }
  }
  if (findIdProblem(value) === undefined) return value;
  return value.length > 40 ? `${JSON.stringify(value.slice(0, 40)).slice(0, -1)}…"` : JSON.stringify(value);
}
