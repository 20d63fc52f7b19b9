import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.ts';

/**
 * Answering on a socket Node's HTTP server has handed over ('upgrade', 'connect') in the order of the
 * requests on its connection: after the replies to the requests sent before it are written.
 */

/**
 * Calls `answer` once the replies ahead of the request on the connection are written (repliesWritten), so
 * that what it writes follows them; destroys the socket when the connection closed first, or when
 * `answer` throws (never an unhandled rejection, which would end the process).
 */
export function answerInTurn(socket: Duplex, answer: () => void, logger: Logger): void {
  repliesWritten(socket)
    .then((open) => (open ? answer() : socket.destroy()))
    .catch((failure: unknown) => {
      logger.error('could not answer an upgrade or CONNECT request', { error: String(failure) });
      socket.destroy();
    });
}

/**
 * The reply Node's HTTP server is writing on `socket` to an earlier request of the connection, if any. Node
 * keeps it in the socket's `_httpMessage`, and hands the socket to the next pipelined reply as one finishes.
 */
function replyAhead(socket: Duplex): ServerResponse | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * Settles once the replies to the requests sent before this one on the connection are written: true, or
 * false when the connection closed (or was ended by one of those replies) first. An upgrade or a CONNECT
 * may come pipelined behind requests still being answered (all in one packet): Node emits 'upgrade' or
 * 'connect' at once, and whatever was written on the socket before their replies would be read as theirs
 * (a refusal taken for a push's reply), and a response of its own could not be given the socket at all
 * (ERR_HTTP_SOCKET_ASSIGNED, thrown in the 'upgrade' listener, ended the process).
 */
export function repliesWritten(socket: Duplex): Promise<boolean> {
  return new Promise((resolve) => {
    const next = (): void => {
      if (socket.destroyed || !socket.writable) return resolve(false);
      const ahead = replyAhead(socket);
      if (!ahead) return resolve(true);
      // Node's own 'finish' listener (added when it made the reply) runs first: it detaches the socket
      // and assigns it to the next pipelined reply, if there is one.
      const onClose = (): void => {
        ahead.off('finish', onFinish);
        resolve(false);
      };
      const onFinish = (): void => {
        socket.off('close', onClose);
        next();
      };
      ahead.once('finish', onFinish);
      socket.once('close', onClose);
    };
    next();
  });
}
