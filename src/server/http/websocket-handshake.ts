import type { IncomingHttpHeaders } from 'node:http';
import { SyncError } from '../errors.ts';

/**
 * The checks RFC 6455 (section 4.2.1) puts on a WebSocket opening handshake,
 * made before `ws` sees the request: `ws` refuses a bad one with a text/html
 * reply of its own, and the protocol promises the JSON error body on every
 * refused upgrade (docs/protocol.md). Pure: the request's method and headers
 * in, the error out (undefined when the handshake is sound).
 */

/** Whether the request asks to become a WebSocket (`Upgrade: websocket`, any case); other upgrades (h2c) are not ours. */
export function asksForWebSocket(headers: IncomingHttpHeaders): boolean {
  const upgrade = headers.upgrade;
  return typeof upgrade === 'string' && upgrade.trim().toLowerCase() === 'websocket';
}

/** A Sec-WebSocket-Key: 16 bytes in base64. */
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** The protocol versions `ws` speaks: 13 (RFC 6455) and 8 (the last draft). */
const VERSIONS = ['13', '8'];

export function handshakeProblem(method: string | undefined, headers: IncomingHttpHeaders): SyncError | undefined {
  if (method !== 'GET') {
    return new SyncError('METHOD_NOT_ALLOWED', `A WebSocket handshake is a GET, not ${String(method)}`, { allow: ['GET'] });
  }
  const key = headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key.trim())) {
    return new SyncError('BAD_REQUEST', 'The WebSocket handshake needs a Sec-WebSocket-Key of 16 bytes in base64', {
      reason: 'bad-websocket-handshake',
      header: 'sec-websocket-key',
    });
  }
  const version = headers['sec-websocket-version'];
  if (typeof version !== 'string' || !VERSIONS.includes(version.trim())) {
    return new SyncError(
      'BAD_REQUEST',
      `The WebSocket handshake must say Sec-WebSocket-Version: 13, not ${JSON.stringify(version ?? null)}`,
      {
        reason: 'bad-websocket-handshake',
        header: 'sec-websocket-version',
        supported: [13],
      },
    );
  }
  return undefined;
}
