/**
 * The `Prefer` request header (RFC 7240): what a client asks of a reply. The
 * server honours one preference, `return=minimal` on a push: the reply leaves
 * out `positions`, one entry per event that a client may not need (Chronicle's
 * own client confirms its events by pulling), and says so with
 * `Preference-Applied: return=minimal`. Pure: no I/O.
 */

/** The `Preference-Applied` value of a push answered without positions. */
export const RETURN_MINIMAL = 'return=minimal';

/**
 * Splits a header value at the commas and semicolons that are not inside a
 * quoted string: the preferences, each as its name-value pair then its
 * parameters.
 */
function preferencesOf(value: string): string[][] {
  const preferences: string[][] = [];
  let current: string[] = [];
  let part = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < value.length) part += value[++i];
      else if (c === '"') quoted = false;
      else part += c;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ';' || c === ',') {
      current.push(part.trim());
      part = '';
      if (c === ',') {
        preferences.push(current);
        current = [];
      }
    } else {
      part += c;
    }
  }
  current.push(part.trim());
  preferences.push(current);
  return preferences;
}

/**
 * The value of the preference named `name` (case-insensitive), as the first
 * instance gives it (RFC 7240, section 2: later ones are ignored); '' for a
 * preference without a value, undefined when none is asked for. A request
 * may send the header several times: Node joins them with ", ".
 */
export function preference(header: string | readonly string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const value = typeof header === 'string' ? header : header.join(', ');
  for (const [pair] of preferencesOf(value)) {
    if (!pair) continue;
    const equals = pair.indexOf('=');
    const key = (equals < 0 ? pair : pair.slice(0, equals)).trim().toLowerCase();
    if (key === name.toLowerCase()) return equals < 0 ? '' : pair.slice(equals + 1).trim();
  }
  return undefined;
}

/** Whether a request asks for `return=minimal` (a value compared case-insensitively, quoted or not). */
export function prefersMinimalReturn(header: string | readonly string[] | undefined): boolean {
  return preference(header, 'return')?.toLowerCase() === 'minimal';
}
