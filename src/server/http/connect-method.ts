import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SyncError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { repliesWritten } from './replies-in-turn.ts';
import { endAndLinger, rawErrorResponse } from './reply.ts';
import { beginRequest, CLIENT_GONE_STATUS, noteError, type RequestInfo } from './request-context.ts';

/**
 * CONNECT requests: this server is no proxy, so each gets 405 with the
 * protocol's error body. Node hands a CONNECT to the server's 'connect'
 * listener with the bare socket (its parser is gone from it); with no listener
 * it destroyed the socket: the CONNECT got no reply, and a reply still to be
 * written on that connection to a request sent before it (a push, stored) was
 * lost with it.
 */

/** How long a socket answered here may linger after its reply, reading and dropping what still arrives (endAndLinger). */
const LINGER_MS = 1000;

/** The methods this server serves (GET wherever HEAD is, POST for push and fence, OPTIONS for preflights): what a 405 to CONNECT allows. */
const SERVED_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'];

export function connectRefusal(): SyncError {
  return new SyncError('METHOD_NOT_ALLOWED', 'CONNECT is not supported: this server is not a proxy', { allow: [...SERVED_METHODS] });
}

export function createConnectRefusals(options: {
  logger: Logger;
  corsHeaders: (request: IncomingMessage) => Record<string, string>;
  /** The request is over (answered, or its client left first): logged and counted as any request. */
  finished: (request: IncomingMessage, info: RequestInfo) => void;
}) {
  /** Sockets not closed yet: close() destroys them (Node's server no longer tracks a socket it handed over). */
  const open = new Set<Duplex>();

  /** Writes the 405 and closes the connection, as a refused upgrade is closed (endAndLinger). */
  const refuse = (request: IncomingMessage, info: RequestInfo, socket: Duplex): void => {
    const error = connectRefusal();
    info.status = error.status;
    noteError(info, error);
    endAndLinger(socket, rawErrorResponse(error, { ...options.corsHeaders(request), 'x-request-id': info.id }), LINGER_MS);
  };

  /** The server's 'connect' listener: answers after the replies to the requests sent before it on the connection. */
  const onConnect = (request: IncomingMessage, socket: Duplex): void => {
    const info = beginRequest(request);
    // Node's own 'error' listener went with its parser: an error now (a reset) would be thrown.
    socket.on('error', () => socket.destroy());
    if (!socket.destroyed) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
    repliesWritten(socket)
      .then((writable) => {
        if (writable) refuse(request, info, socket);
        else {
          // The connection closed before its turn: no reply could reach the client.
          info.status = CLIENT_GONE_STATUS;
          socket.destroy();
        }
        options.finished(request, info);
      })
      .catch((failure: unknown) => {
        // Never an unhandled rejection, which would end the process.
        options.logger.error('could not answer a CONNECT request', { requestId: info.id, error: String(failure) });
        socket.destroy();
      });
  };

  return {
    onConnect,
    /** Destroys the sockets answered here that are still open (lingering, or waiting for their turn). */
    close(): void {
      for (const socket of open) socket.destroy();
    },
  };
}
