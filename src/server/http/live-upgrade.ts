import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { SyncError } from '../errors.ts';
import type { LiveHub } from '../live.ts';
import { loadPeer } from '../optional-peer.ts';
import type { Admission } from './admit.ts';
import type { HandlerContext } from './context.ts';
import { endAndLinger, rawErrorResponse } from './reply.ts';
import { beginRequest, noteError, type RequestInfo } from './request-context.ts';
import { matchLogRoute, parseTarget } from './routes.ts';
import { asksForWebSocket, handshakeProblem } from './websocket-handshake.ts';

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

  const reject = (request: IncomingMessage, info: RequestInfo, socket: Duplex, error: SyncError): void => {
    info.status = error.status;
    noteError(info, error);
    endAndLinger(socket, rawErrorResponse(error, { ...options.corsHeaders(request), 'x-request-id': info.id }), 1000);
    options.refused(request, info);
  };

  /**
   * An upgrade to another protocol than WebSocket (`curl --http2` asks for
   * h2c): the Upgrade header is ignored, as RFC 9110 (7.8) allows, and the
   * request answered as plain HTTP/1.1 on the socket, which is then closed
   * (Node parses nothing more on it). One with a body cannot be read any
   * more: 400, saying to send it without Upgrade.
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
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as Socket);
    response.once('finish', () => {
      response.detachSocket(socket as Socket);
      socket.end();
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
        serveWithoutUpgrade(request, socket);
        return;
      }
      const { path } = parseTarget(request.url);
      const matched = matchLogRoute(path);
      if (matched === undefined || (!(matched instanceof SyncError) && matched.action !== 'live')) {
        // Another upgrade listener on a shared server may want it.
        if (httpServer.listenerCount('upgrade') > 1) return;
        const error = new SyncError('NOT_FOUND', `No WebSocket endpoint at ${path.slice(0, 200)}`, { path: path.slice(0, 200) });
        reject(request, beginRequest(request), socket, error);
        return;
      }
      const info = beginRequest(request);
      info.action = 'live';
      if (!(matched instanceof SyncError)) info.log = matched.log;
      socket.on('error', () => socket.destroy());
      const run = async (): Promise<void> => {
        const principal = await admission.authenticate(request);
        if (matched instanceof SyncError) throw matched;
        const problem = handshakeProblem(request.method, request.headers);
        if (problem) throw problem;
        if (options.isClosing()) throw new SyncError('UNAVAILABLE', 'The server is shutting down', { reason: 'shutting-down' });
        admission.admit(request, principal, matched);
        if (hub.size >= context.limits.maxLiveConnections) {
          throw new SyncError('UNAVAILABLE', 'Too many live connections on this server', {
            reason: 'too-many-connections',
            limit: context.limits.maxLiveConnections,
          });
        }
        let sockets: WebSocketServer;
        try {
          sockets = await server();
        } catch (error) {
          throw new SyncError('UNAVAILABLE', (error as Error).message, { reason: 'live-unavailable' });
        }
        sockets.handleUpgrade(request, socket, head, (ws) => {
          void hub.add(matched.log, ws);
        });
      };
      run().catch((error: unknown) => {
        try {
          reject(request, info, socket, context.replier.toSyncError(error, request));
        } catch (failure) {
          // Never an unhandled rejection (it would end the process): the upgrade is dropped.
          context.logger.error('could not refuse a live upgrade', { error: String(failure) });
          socket.destroy();
        }
      });
    };

  return {
    onUpgrade,
    /** Loads `ws` now, so that a server without it says so when it starts, not at its first upgrade. */
    prepare(): void {
      void server().catch(() => undefined);
    },
    close(): void {
      void wss?.then(
        (s) => s.close(),
        () => undefined,
      );
    },
  };
}
