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
