/**
 * What was thrown, as text for an error message, whatever it is: app code
 * (an upcaster, a schema's transform) may throw anything, including values
 * whose String() itself throws (Object.create(null), a Symbol's
 * description aside) or lies in a getter. Never throws.
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
    return String(thrown);
  } catch {
    return 'a value that cannot be shown';
  }
}

/**
 * The message of what was thrown: an Error's message, or (for anything else,
 * and an Error without one, such as a DOMException with only a name) what
 * String() shows; describeThrown's text when neither can be read (a message
 * getter that throws, a revoked Proxy). Never throws.
 */
export function messageOfThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error && typeof thrown.message === 'string' && thrown.message !== '') return thrown.message;
    return String(thrown);
  } catch {
    return describeThrown(thrown);
  }
}
