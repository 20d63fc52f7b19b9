import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { SyncError } from '../errors.ts';
import { answeredAlready } from './body.ts';
import { endAndLinger, rawErrorResponse } from './reply.ts';

/** How long a closed connection reads and drops what still arrives before it is destroyed (endAndLinger). */
const LINGER_MS = 1000;

/** Sockets whose parse error waits for the replies ahead of it (a further error on them changes nothing). */
const waitingForReplies = new WeakSet<Duplex>();

/**
 * The reply Node's HTTP server is writing on `socket` to a request that arrived whole, or undefined. Node
 * keeps the reply under way in the socket's `_httpMessage` (its own 'clientError' default reads it so as
 * not to write over it); the replies of requests pipelined behind it follow in turn. A parse error while
 * that request is whole is about bytes after it: the next request's.
 */
function replyToWholeRequest(socket: Duplex): ServerResponse | undefined {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  return current && !current.writableFinished && current.req.complete ? current : undefined;
}

/**
 * Node's 'clientError': a request it could not parse or that broke a limit
 * before a request object existed. Node's own answer is a bare status line
 * (431, 400, 408) with no body; this one carries the protocol's error body
 * like every other non-2xx reply, with a request id of its own, and lingers so
 * the reply is read before the connection closes. `refused` logs and counts it,
 * as any refused request is.
 */
export function handleClientError(
  error: Error & { code?: string },
  socket: Duplex,
  maxHeaderBytes: number,
  refused?: (requestId: string, reply: SyncError) => void,
  /** Headers every such reply carries (CORS, when every origin is allowed). */
  extraHeaders: Record<string, string> = {},
): void {
  // Node's own timeout of a request the server answered already (a 408 from its body timer, its body still
  // being dropped) gets no second, unasked-for reply, which a keep-alive client would read as the answer to
  // its next request: its connection just closes. Any other error is a next request's, and is answered.
  const timedOutAnswered = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && answeredAlready(socket);
  // The client closed its side in the middle of a request (an aborted upload, a closed tab): it went away,
  // as with a reset. The request, if one began, is counted as the client's leaving (CLIENT_GONE_STATUS).
  const endedMidRequest = error.code === 'HPE_INVALID_EOF_STATE';
  if (error.code === 'ECONNRESET' || endedMidRequest || !socket.writable || timedOutAnswered) {
    socket.destroy();
    return;
  }
  // Bytes that are not HTTP behind a request whose reply is still to be written (pipelined, or stray bytes
  // after a Connection: close request): a reply written now would reach the client as that request's (a
  // stored push's 200 replaced by a 400, which a client reads as its events refused for good). It is
  // written first (Node hands the socket to the next pipelined reply as one finishes: its own 'finish'
  // listener runs before this one); then the error is answered in its turn, or, when that reply closed the
  // connection (Connection: close), Node closes it.
  if (waitingForReplies.has(socket)) return;
  const ahead = replyToWholeRequest(socket);
  if (ahead) {
    waitingForReplies.add(socket);
    ahead.once('finish', () => {
      waitingForReplies.delete(socket);
      if (socket.writable) handleClientError(error, socket, maxHeaderBytes, refused, extraHeaders);
    });
    return;
  }
  let reply: SyncError;
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    reply = new SyncError('HEADERS_TOO_LARGE', `The request line and headers exceed the limit of ${maxHeaderBytes} bytes`, {
      limit: maxHeaderBytes,
    });
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT') {
    reply = new SyncError('REQUEST_TIMEOUT', 'The request did not arrive in time', { reason: error.code });
  } else {
    reply = new SyncError('BAD_REQUEST', 'The request is not valid HTTP', { reason: error.code ?? 'parse-error' });
  }
  const requestId = randomUUID();
  endAndLinger(socket, rawErrorResponse(reply, { ...extraHeaders, 'x-request-id': requestId }), LINGER_MS);
  refused?.(requestId, reply);
}
