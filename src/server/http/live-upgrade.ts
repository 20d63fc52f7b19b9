import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { SyncError } from '../errors.ts';
import type { LiveHub } from '../live.ts';
import { loadPeer } from '../optional-peer.ts';
import type { Admission } from './admit.ts';
import type { HandlerContext } from './context.ts';
import { answerInTurn, repliesWritten } from './replies-in-turn.ts';
import { endAndLinger, rawErrorResponse } from './reply.ts';
import { beginRequest, noteError, type RequestInfo } from './request-context.ts';
import { matchLogRoute, parseTarget } from './routes.ts';
import { asksForWebSocket, handshakeProblem } from './websocket-handshake.ts';

/** How long a socket answered here may linger after its reply, reading and dropping what still arrives (endAndLinger). */
const LINGER_MS = 1000;

/**
 * The live channel's WebSocket upgrades on /v1/logs/:log/live: the same
 * admission as any request (authenticate first), then the hub follows the log
 * on the socket. `ws` is an optional peer, loaded on the first upgrade; without
 * it upgrades are refused with 503 and the reason.
 */
export function createLiveUpgrades(options: {
  context: HandlerContext;
  admission: Admission;
  hub: LiveHub;
  isClosing: () => boolean;
  corsHeaders: (request: IncomingMessage) => Record<string, string>;
  /** An upgrade refused with `info.status`: logged and counted as any refused request. */
  refused: (request: IncomingMessage, info: RequestInfo) => void;
  /** Serves a request as plain HTTP (the server's handler): for an upgrade to another protocol than WebSocket. */
  serve: (request: IncomingMessage, response: ServerResponse) => void;
}) {
  const { context, admission, hub } = options;
  let wss: Promise<WebSocketServer> | undefined;
  const server = (): Promise<WebSocketServer> => {
    if (wss) return wss;
    wss = loadPeer('ws', 'The live channel (attachWebSocket)', () => import('ws')).then((module) => {
      // ESM gives the named export; some bundlers only the CommonJS default.
      const named = module as unknown as {
        WebSocketServer?: typeof WebSocketServer;
        default?: { WebSocketServer?: typeof WebSocketServer };
      };
      const WSS = named.WebSocketServer ?? named.default?.WebSocketServer;
      if (!WSS) throw new Error('the "ws" package has no WebSocketServer');
      return new WSS({ noServer: true, maxPayload: 64 * 1024 });
    });
    // Said once, when the package fails to load; each refused upgrade after that is a request log line.
    wss.catch((error: unknown) => context.logger.warn('live channel off', { error: String((error as Error).message ?? error) }));
    return wss;
  };

  /**
   * Sockets this file answers on itself (refused upgrades, requests served without the upgrade), until they
   * close. Node's HTTP server no longer tracks a socket once it is handed to 'upgrade' (no timeout, not
   * reached by closeAllConnections), yet its listener's close waits for it: close() destroys those still open.
   */
  const answered = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    // One destroyed already needs no destroying, and its 'close' may be past: it would never leave the set.
    if (socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    socket.once('close', () => answered.delete(socket));
  };

  /**
   * Answers on `socket` in its turn (answerInTurn). Until then the socket is tracked (a close() destroys
   * it) and has an 'error' listener: Node's own went with the upgrade.
   */
  const inTurn = (socket: Duplex, answer: () => void): void => {
    socket.on('error', () => socket.destroy());
    track(socket);
    answerInTurn(socket, answer, context.logger);
  };

  const reject = (request: IncomingMessage, info: RequestInfo, socket: Duplex, error: SyncError): void => {
    info.status = error.status;
    noteError(info, error);
    track(socket);
    endAndLinger(socket, rawErrorResponse(error, { ...options.corsHeaders(request), 'x-request-id': info.id }), LINGER_MS);
    options.refused(request, info);
  };

  /**
   * An upgrade to another protocol than WebSocket (`curl --http2` asks for
   * h2c): the Upgrade header is ignored, as RFC 9110 (7.8) allows, and the
   * request answered as plain HTTP/1.1 on the socket, which is then closed
   * (Node parses nothing more on it). One with a body cannot be read any
   * more: 400, saying to send it without Upgrade. Either way the request is
   * logged, counted and awaited by close() as any other.
   */
  const serveWithoutUpgrade = (request: IncomingMessage, socket: Duplex): void => {
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    if (hasBody) {
      const protocol = String(request.headers.upgrade).slice(0, 40);
      const error = new SyncError(
        'BAD_REQUEST',
        `Upgrade: ${protocol} is not supported on a request with a body; send it without Upgrade`,
        {
          reason: 'upgrade-not-supported',
        },
      );
      reject(request, beginRequest(request), socket, error);
      return;
    }
    track(socket);
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as Socket);
    // The server's handler counts a request done (in flight, request log, metrics) when its response emits
    // 'close'. While the socket is assigned, Node emits it if the socket closes first (the client left);
    // once the reply is written, Node's own server emits it after detaching the socket (resOnFinish), and
    // this response has no server to do that: it is emitted here, once.
    let closed = false;
    response.once('close', () => (closed = true));
    response.once('finish', () => {
      response.detachSocket(socket as Socket);
      process.nextTick(() => {
        if (!closed) response.emit('close');
      });
      // end() alone would leave the socket half-open for as long as the client keeps its side open:
      // closed as a refusal is, bounded.
      endAndLinger(socket, '', LINGER_MS);
    });
    socket.on('error', () => socket.destroy());
    options.serve(request, response);
  };

  const onUpgrade =
    (httpServer: Server) =>
    (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (!asksForWebSocket(request.headers)) {
        // Another upgrade listener on a shared server may want it.
        if (httpServer.listenerCount('upgrade') > 1) return;
        inTurn(socket, () => serveWithoutUpgrade(request, socket));
        return;
      }
      const { path } = parseTarget(request.url);
      const matched = matchLogRoute(path);
      if (matched === undefined || (!(matched instanceof SyncError) && matched.action !== 'live')) {
        // Another upgrade listener on a shared server may want it.
        if (httpServer.listenerCount('upgrade') > 1) return;
        const error = new SyncError('NOT_FOUND', `No WebSocket endpoint at ${path.slice(0, 200)}`, { path: path.slice(0, 200) });
        const info = beginRequest(request);
        inTurn(socket, () => reject(request, info, socket, error));
        return;
      }
      const info = beginRequest(request);
      info.action = 'live';
      if (!(matched instanceof SyncError)) info.log = matched.log;
      socket.on('error', () => socket.destroy());
      const shuttingDown = () => new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
      /** 503 while the server shuts down or has as many live sockets as it takes. */
      const checkRoom = (): void => {
        if (options.isClosing()) throw shuttingDown();
        if (hub.size >= context.limits.maxLiveConnections) {
          throw new SyncError('UNAVAILABLE', 'Too many live connections on this server', {
            reason: 'too-many-connections',
            limit: context.limits.maxLiveConnections,
          });
        }
      };
      /** The request is admitted: the live channel takes the socket, once the replies ahead of it are written. */
      const upgrade = async (sockets: WebSocketServer, log: string): Promise<void> => {
        track(socket);
        const open = await repliesWritten(socket);
        if (!open) {
          socket.destroy();
          return;
        }
        // The wait may have outlasted the start of a shutdown (whose hub would never close this socket), or
        // other sockets may have taken the last places meanwhile.
        checkRoom();
        answered.delete(socket);
        sockets.handleUpgrade(request, socket, head, (ws) => {
          void hub.add(log, ws, () => admission.recheck(request, log));
        });
      };
      const run = async (): Promise<void> => {
        const principal = await admission.authenticate(request);
        if (matched instanceof SyncError) throw matched;
        const problem = handshakeProblem(request.method, request.headers);
        if (problem) throw problem;
        if (options.isClosing()) throw shuttingDown();
        admission.admit(request, principal, matched);
        checkRoom();
        let sockets: WebSocketServer;
        try {
          sockets = await server();
        } catch (error) {
          throw new SyncError('UNAVAILABLE', (error as Error).message, { reason: 'live-unavailable' });
        }
        await upgrade(sockets, matched.log);
      };
      run().catch((error: unknown) =>
        answerInTurn(socket, () => reject(request, info, socket, context.replier.toSyncError(error, request)), context.logger),
      );
    };

  return {
    onUpgrade,
    /** Loads `ws` now, so that a server without it says so when it starts, not at its first upgrade. */
    prepare(): void {
      void server().catch(() => undefined);
    },
    /** Stops the WebSocket server and destroys the sockets answered here that are still open (lingering, or a client that keeps its side open). */
    close(): void {
      void wss?.then(
        (s) => s.close(),
        () => undefined,
      );
      for (const socket of answered) socket.destroy();
    },
  };
}
