/**
 * Errors across the devtools bridge. The page sends an error's JSON (the
 * ChronicleError's own `toJSON`); the panel rebuilds the same class from it
 * (`errorFromJSON`), so a ValidationError from an import stays a
 * ValidationError with its details, and every error the panel sees is a
 * ChronicleError. What the page throws that is no ChronicleError crosses as a
 * RemoteError.
 */
import { ChronicleError, errorFromJSON, isSerializedError, type DevtoolsErrorCode, type SerializedError } from '../core/index.ts';
import { DevtoolsError, RemoteError, thrownText } from './errors.ts';

/** The codes a DevtoolsError can carry: a Record, so the compiler keeps it to the DevtoolsErrorCode list. */
const DEVTOOLS_CODES: Record<DevtoolsErrorCode, true> = {
  NO_AGGREGATE: true,
  EXPIRED: true,
  DISCONNECTED: true,
  BAD_REQUEST: true,
  REMOTE: true,
};

const isDevtoolsCode = (code: string): code is DevtoolsErrorCode => Object.hasOwn(DEVTOOLS_CODES, code);

/** The page's name for what it threw, if it has one that can be read. */
function thrownName(error: unknown): string | undefined {
  try {
    return error instanceof Error ? String(error.name) : undefined;
  } catch {
    return undefined;
  }
}

/** What the page threw, as a ChronicleError. */
function asChronicleError(error: unknown): ChronicleError {
  try {
    if (error instanceof ChronicleError) return error;
    if (error instanceof Error) return new RemoteError(String(error.message), thrownName(error));
  } catch {
    // A name or message getter that throws, a revoked Proxy: said as any other value.
  }
  return new RemoteError(thrownText(error), thrownName(error));
}

/**
 * An error as the page sends it: plain JSON, which both structured clone
 * (window.postMessage) and chrome.runtime ports carry. Details JSON cannot
 * hold (a bigint, a cycle, what a toJSON throws) are left out, not the error.
 */
export function errorToWire(error: unknown): SerializedError {
  const chronicle = asChronicleError(error);
  try {
    return JSON.parse(JSON.stringify(chronicle.toJSON())) as SerializedError;
  } catch {
    // Details JSON cannot hold: the error goes without them.
  }
  try {
    return { code: String(chronicle.code), name: String(chronicle.name), message: String(chronicle.message), details: {} };
  } catch {
    // A subclass whose fields throw when read: its text, as any other value (a call must always be answered).
    return new RemoteError(thrownText(error)).toJSON();
  }
}

/** The error the page sent, rebuilt as its class; anything unreadable as a RemoteError. */
export function errorFromWire(wire: unknown): ChronicleError {
  if (!isSerializedError(wire)) return new RemoteError('the page sent an error the panel cannot read');
  const details = typeof wire.details === 'object' && wire.details !== null && !Array.isArray(wire.details) ? wire.details : {};
  // By name and code: a store error may carry a code a devtools error also has (the sync server's BAD_REQUEST).
  if (wire.name === 'RemoteError' && wire.code === 'REMOTE') {
    return new RemoteError(wire.message, typeof details.name === 'string' ? details.name : undefined);
  }
  if (wire.name === 'DevtoolsError' && isDevtoolsCode(wire.code)) return new DevtoolsError(wire.code, wire.message, details);
  const rebuilt = errorFromJSON(wire);
  // errorFromJSON rebuilds a class from the facts its constructor takes; the page's error may hold more
  // (an import's ValidationError names the line and the field): the panel keeps every fact the page sent.
  return Object.assign(rebuilt, { details: { ...rebuilt.details, ...details } });
}
