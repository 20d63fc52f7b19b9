/**
 * What a client sent, as an error reply may repeat it: bounded, and never by
 * serialising the value itself. A request body may hold a value nested 5,000
 * levels deep (JSON.parse takes it; JSON.stringify of it overflows the stack,
 * which made a refusal a 500) or a string of 4 MiB (repeated in the message
 * and in the details, a reply twice the size of the request). Pure.
 */

/** How many characters of a client's text an error reply repeats. */
export const SHOWN_CHARS = 100;

/** The JSON type of a parsed value, or 'missing' for a field the body does not have. */
export type JsonTypeName = 'number' | 'string' | 'boolean' | 'null' | 'array' | 'object' | 'missing';

export function jsonTypeOf(value: unknown): JsonTypeName {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    default:
      return 'object';
  }
}

/** The first `max` characters of a client's text, with "…" when some were left out. */
export function cutText(text: string, max: number = SHOWN_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * A parsed JSON value as an error message names it: a number, boolean or null as written, a string cut
 * to SHOWN_CHARS (with its length when cut), anything else by its type only. Never longer than about
 * SHOWN_CHARS + 50 characters, whatever was sent.
 */
export function describeClientValue(value: unknown): string {
  const type = jsonTypeOf(value);
  switch (type) {
    case 'missing':
      return 'nothing';
    case 'number':
    case 'boolean':
    case 'null':
      return String(value);
    case 'string': {
      const text = value as string;
      // JSON.stringify of a string is flat (no nesting), and the cut bounds it.
      const shown = JSON.stringify(cutText(text));
      return text.length > SHOWN_CHARS ? `the string ${shown} (${text.length} characters)` : `the string ${shown}`;
    }
    case 'array':
      return 'an array';
    case 'object':
      return 'an object';
  }
}
