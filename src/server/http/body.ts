import type { IncomingMessage } from 'node:http';
import { SyncError } from '../errors.ts';
import { sendContinue } from './expect-continue.ts';

/**
 * Reading request bodies: JSON only, bounded in size and in time, and a
 * refusal that still reaches the client.
 */

/**
 * The client closed the connection while its request body was still arriving:
 * there is nobody to answer, and it is not the server's failure. The handler
 * that meets it replies nothing (sendError) and logs nothing; the request is
 * logged and counted as CLIENT_GONE_STATUS (server.ts).
 */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
  constructor() {
    super('the client closed the connection before its request body arrived');
  }
}

/** Push and fence bodies are JSON: anything declared otherwise is 415 before a byte of it is read. */
export function checkJsonContentType(request: IncomingMessage): void {
  const declared = request.headers['content-type'];
  const media = declared?.split(';')[0]?.trim().toLowerCase();
  if (media !== 'application/json') {
    throw new SyncError(
      'UNSUPPORTED_MEDIA_TYPE',
      declared
        ? `The body must be application/json, not ${declared.slice(0, 100)}`
        : 'The body must be application/json (no content-type was sent)',
      { expected: 'application/json', received: declared?.slice(0, 100) ?? null },
    );
  }
}

/**
 * Bodies are read as sent, in no content coding: one declared in gzip, br or any coding but identity is 415
 * before a byte of it is read (RFC 9110, 15.5.16; the reply says Accept-Encoding: identity, errorHeaders).
 * Read as it is, a compressed body would be refused as not UTF-8 or not JSON, a 400 that a client takes
 * for a refusal of its events, and a plain body labelled gzip would be stored as something its sender did
 * not mean. No Content-Encoding, an empty one, or identity (any case) is a plain body.
 */
export function checkIdentityEncoding(request: IncomingMessage): void {
  const declared = request.headers['content-encoding'];
  if (declared === undefined) return;
  const codings = declared
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return;
  const received = declared.slice(0, 100);
  throw new SyncError(
    'UNSUPPORTED_MEDIA_TYPE',
    `The body must not be compressed: Content-Encoding ${received} is not supported (send it without Content-Encoding)`,
    { reason: 'unsupported-content-encoding', header: 'content-encoding', expected: 'identity', received },
  );
}

/**
 * A body is framed by Content-Length or by chunked transfer coding, and in no other transfer coding: one
 * in gzip, deflate or any coding but chunked (`Transfer-Encoding: gzip, chunked`) is 415 before a byte of
 * it is read, for the reason checkIdentityEncoding gives. Node undoes the chunked framing only (it refuses
 * a request whose last coding is not chunked), so the body would be read still compressed: a real gzip
 * body refused as not UTF-8, a 400 naming no field (a client splits its push, then rejects valid events),
 * and a plain one labelled deflate stored as something its sender did not mean.
 */
export function checkChunkedOnly(request: IncomingMessage): void {
  const declared = request.headers['transfer-encoding'];
  if (declared === undefined) return;
  const codings = declared
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'chunked');
  if (codings.length === 0) return;
  const received = declared.slice(0, 100);
  throw new SyncError(
    'UNSUPPORTED_MEDIA_TYPE',
    `The body must not be compressed: Transfer-Encoding ${received} is not supported (send it with chunked alone, or a Content-Length)`,
    { reason: 'unsupported-transfer-encoding', header: 'transfer-encoding', expected: 'chunked', received },
  );
}

/**
 * Reads a request body up to `max` bytes; refuses a larger one (413) as soon as
 * it is known to be larger (a declared Content-Length, or the bytes read so
 * far), and a body that does not arrive within `timeoutMs` (408). Rejects with
 * ClientGoneError when the connection closes before the body's end.
 */
export function readBody(request: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer> {
  // Gone before the body was asked for (while the auth hook ran): 'aborted' was emitted already.
  if (request.destroyed && !request.complete) return Promise.reject(new ClientGoneError());
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    return Promise.reject(
      new SyncError('PAYLOAD_TOO_LARGE', `The request body is ${declared} bytes; the limit is ${max}`, {
        limit: max,
        bytes: Number(declared),
        what: 'request',
      }),
    );
  }
  // Asked to wait for it (Expect: 100-continue): the checks before reading are passed, so the body may come.
  sendContinue(request);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      reject(new SyncError('REQUEST_TIMEOUT', `The request body did not arrive within ${timeoutMs} ms`, { timeoutMs }));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        reject(
          new SyncError('PAYLOAD_TOO_LARGE', `The request body exceeds the limit of ${max} bytes`, {
            limit: max,
            what: 'request',
          }),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => {
      cleanup();
      reject(new ClientGoneError());
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
  });
}

/** Sockets whose request was answered while its body still arrives (discardRest): answered once already. */
const answeredWhileArriving = new WeakSet<object>();

/**
 * Whether the request on `socket` was answered before its body had arrived:
 * then Node's own timeout for that request (requestTimeout, which runs on
 * while the rest is dropped) must not answer it a second time.
 */
export function answeredAlready(socket: object): boolean {
  return answeredWhileArriving.has(socket);
}

/**
 * After an error reply to a request whose body was not read to its end (too
 * large, or refused before reading): read and drop the rest of the body, so
 * that the connection closes cleanly, or stays open for the next request. If
 * the server closed the socket with the body still arriving, the kernel would
 * answer the client with a reset, which destroys the reply before the client
 * reads it (issue 10: 6 to 9 of 12 clients saw ECONNRESET instead of 413).
 * Bounded: after `maxBytes` more bytes, or `timeoutMs`, the socket is closed
 * anyway (by then the client has had the reply for a while).
 */
export function discardRest(request: IncomingMessage, maxBytes: number, timeoutMs: number): void {
  if (request.complete) return;
  const socket = request.socket;
  answeredWhileArriving.add(socket);
  const startBytes = socket.bytesRead;
  const started = Date.now();
  // Node drops the body of a request its handler did not read (IncomingMessage._dump) once the reply
  // is sent; a watch on the socket's byte count bounds how much of it is read.
  const watch = setInterval(() => {
    if (request.complete || socket.destroyed) return stop(false);
    if (socket.bytesRead - startBytes > maxBytes || Date.now() - started > timeoutMs) stop(true);
  }, 25);
  watch.unref();
  const stop = (destroy: boolean): void => {
    clearInterval(watch);
    // Dropped to its end: the connection's next request is a new one, answered as any.
    answeredWhileArriving.delete(socket);
    if (destroy) socket.destroy();
  };
  // Its body ended: the connection's next request is a new one, answered as any.
  request.once('end', () => answeredWhileArriving.delete(socket));
  request.resume();
}
