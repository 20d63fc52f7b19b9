import { ChronicleError, type ErrorDetails } from '../core/errors.ts';
import { ERROR_STATUS, type ErrorBody, type ProtocolErrorCode } from '../core/protocol.ts';

/**
 * An error the sync server replies with: a protocol error code, the HTTP status
 * that goes with it (ERROR_STATUS), a message for people and the facts in
 * `details` for programs. Thrown by stores and the HTTP layer alike; the HTTP
 * layer turns it into `{ error: { code, message, details } }`.
 */
export class SyncError extends ChronicleError {
  override name = 'SyncError';
  declare readonly code: ProtocolErrorCode;
  readonly status: number;
  constructor(code: ProtocolErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.status = ERROR_STATUS[code];
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export function isSyncError(value: unknown): value is SyncError {
  return value instanceof SyncError;
}
