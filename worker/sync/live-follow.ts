import type { Transport } from './transport.ts';

/**
 * A handler the follower sets on a socket. A method's parameter is bivariant:
 * a socket whose handler properties take a richer event (the `ws` package's
 * MessageEvent, the DOM's) still fits, as the README's `webSocket` option says.
 */
type Handler<E> = { handle(event: E): void }['handle'];

type WebSocketLike = {
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<unknown> | null;
  onerror: Handler<unknown> | null;
  close(): void;
};
export type WebSocketFactory = (url: string) => WebSocketLike;

/**
 * Follows the server's head on the live channel (a WebSocket): each `hello` or
 * `head` above what the client holds wakes the sync loop. Reconnects with
 * backoff when the socket closes; the channel is only a hint, so failing to
 * open it costs polling latency, nothing else.
 */
export function createLiveFollower(options: {
  transport: Transport;
  /** The platform's WebSocket, or one given for Node; none: no live channel. */
  factory: WebSocketFactory | undefined;
  /** A head the server reported. */
  onHead(head: number): void;
  /** Whether the socket should be open now (live enabled, not stopped or paused). */
  wanted(): boolean;
  retryDelay(failures: number): number;
}) {
  let socket: WebSocketLike | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const schedule = (): void => {
    if (!options.wanted() || retry) return;
    failures++;
    retry = setTimeout(() => {
      retry = undefined;
      void open();
    }, options.retryDelay(failures));
  };

  /** The open in progress: a second caller (a reconnect, the end of a round) waits for it rather than making a second socket. */
  let opening: Promise<void> | undefined;
  const open = (): Promise<void> => {
    opening ??= connect().finally(() => (opening = undefined));
    return opening;
  };

  const connect = async (): Promise<void> => {
    if (!options.wanted() || socket || !options.factory) return;
    let url: string;
    try {
      url = await options.transport.liveUrl();
    } catch {
      return schedule();
    }
    // The store closed, paused or stopped while the token came (a refresh, a round trip to the page): no socket now.
    if (!options.wanted() || socket) return;
    let ws: WebSocketLike;
    try {
      ws = options.factory(url);
    } catch {
      return schedule();
    }
    socket = ws;
    ws.onmessage = (event) => {
      failures = 0;
      try {
        const message = JSON.parse(String(event.data)) as { type?: string; head?: number };
        if (typeof message.head === 'number') options.onHead(message.head);
      } catch {
        // Not ours to judge: a malformed live message only means no early wake-up.
      }
    };
    ws.onerror = () => undefined;
    ws.onclose = () => {
      if (socket === ws) socket = undefined;
      schedule();
    };
  };

  return {
    open,
    get isOpen(): boolean {
      return socket !== undefined;
    },
    close(): void {
      if (retry) clearTimeout(retry);
      retry = undefined;
      const ws = socket;
      socket = undefined;
      if (ws) {
        ws.onclose = null;
        ws.close();
      }
    },
  };
}
