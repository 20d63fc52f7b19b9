/**
 * The errors the panel raises itself. On its own so that the value encoder can
 * throw them without importing the source types, which import the encoder's
 * types (no import circle).
 */
import { ChronicleError, type DevtoolsErrorCode, type ErrorDetails } from '../core/index.ts';

/** An error a source reports to the panel (and across the bridge), with a code. */
export class DevtoolsError extends ChronicleError {
  override name = 'DevtoolsError';
  declare readonly code: DevtoolsErrorCode;
  constructor(code: DevtoolsErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/**
 * An error the page raised that is no ChronicleError (a TypeError in a reducer,
 * say), as the panel sees it across the bridge: its message, and the page's
 * name for it in `remoteName` (also `details.name`).
 */
export class RemoteError extends DevtoolsError {
  override name = 'RemoteError';
  readonly remoteName: string | undefined;
  constructor(message: string, remoteName?: string) {
    super('REMOTE', message, remoteName === undefined ? {} : { name: remoteName });
    this.remoteName = remoteName;
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
