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
  return error instanceof Error ? error.message : String(error);
}

/** An error's `code` (DevtoolsError, store errors), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
