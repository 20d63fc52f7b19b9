import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * `Expect: 100-continue`: a client asks whether to send its body before it
 * does (curl does for bodies over 1 MiB). Node answers "100 Continue" at once
 * unless the server listens for 'checkContinue', which would tell a caller
 * without a token, or over its rate limit, to send 4 MiB the server then
 * reads only to refuse. The server listens for it (server.ts) and notes the
 * request here; the body reader says "go on" when it starts to read the body,
 * after authentication, the route's admission and the Content-Length limit.
 * A request refused before that gets its final status without a 100, and
 * Node closes its connection after the reply (the body may still come).
 */
const awaiting = new WeakMap<IncomingMessage, ServerResponse>();

/** Notes that `request` waits for a 100 Continue before it sends its body. */
export function awaitContinue(request: IncomingMessage, response: ServerResponse): void {
  awaiting.set(request, response);
}

/** Tells a client waiting for it to send its body (once; nothing for a request that did not ask). */
export function sendContinue(request: IncomingMessage): void {
  const response = awaiting.get(request);
  if (!response) return;
  awaiting.delete(request);
  if (!response.headersSent && !response.writableEnded) response.writeContinue();
}
