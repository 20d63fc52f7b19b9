/**
 * Errors a source reports to the panel (and across the bridge) with a code.
 * On its own so that the value encoder can throw it without importing the
 * source types, which import the encoder's types (no import circle).
 */
export class DevtoolsError extends Error {
  override readonly name = 'DevtoolsError';
  constructor(
    readonly code: 'NO_AGGREGATE' | 'EXPIRED' | 'DISCONNECTED' | 'TIMEOUT' | 'REMOTE' | 'BAD_REQUEST',
    message: string,
  ) {
    super(message);
  }
}

/** What the panel says about an error: its message. */
export function errorText(error: unknown): string {
  try {
    if (error instanceof Error) return error.message;
  } catch {
    // A message getter that throws, a revoked Proxy: said below, as any other value.
  }
  return thrownText(error);
}

/**
 * A thrown value as String() shows it, whatever it is: the app's getters and
 * reducers may throw values whose String() throws (Object.create(null), a
 * revoked Proxy). Never throws.
 */
export function thrownText(thrown: unknown): string {
  try {
    return String(thrown);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** An error's `code` (DevtoolsError, store errors), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
