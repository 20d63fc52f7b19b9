import type { IncomingHttpHeaders } from 'node:http';
import { SyncError } from '../errors.ts';
import { cutText } from './client-value.ts';

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
    // The header may be as long as the request's headers may (32 KiB): the message repeats its start only.
    return new SyncError(
      'BAD_REQUEST',
      `The WebSocket handshake must say Sec-WebSocket-Version: 13, not ${JSON.stringify(version === undefined ? null : cutText(version))}`,
      {
        reason: 'bad-websocket-handshake',
        header: 'sec-websocket-version',
        supported: [13],
      },
    );
  }
  const protocols = headers['sec-websocket-protocol'];
  if (protocols !== undefined && parseSubprotocols(protocols) === undefined) {
    return new SyncError(
      'BAD_REQUEST',
      'The WebSocket handshake has a malformed Sec-WebSocket-Protocol: it must be a comma-separated list of distinct tokens',
      { reason: 'bad-websocket-handshake', header: 'sec-websocket-protocol' },
    );
  }
  return undefined;
}

/**
 * Tokens (RFC 7230, 3.2.6: the characters `ws` accepts in a subprotocol) separated by commas, with spaces
 * or tabs around each comma only: none before the first token, none after the last.
 */
const SUBPROTOCOL_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * The subprotocols a Sec-WebSocket-Protocol header lists (RFC 6455, 4.1 and 11.3.4), or undefined when it
 * is malformed: parsed as `ws` parses it (its lib/subprotocol.js), so that every header `ws` would refuse
 * with a text/html reply of its own is refused here first with the protocol's error body. Malformed: a
 * member that is not a token (`a b`, `a;b`), an empty member (`,`, `a,,b`, an empty header), whitespace at
 * either end, a member listed twice (`a, a`; two header lines are joined by Node with a comma, so a
 * member repeated across them too).
 */
export function parseSubprotocols(header: string): string[] | undefined {
  if (!SUBPROTOCOL_LIST.test(header)) return undefined;
  const protocols = header.split(',').map((member) => member.trim());
  return new Set(protocols).size === protocols.length ? protocols : undefined;
}
