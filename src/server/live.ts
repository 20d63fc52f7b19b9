import type { WebSocket } from 'ws';
import { PROTOCOL_VERSION, type LiveMessage } from '../core/protocol.ts';
import type { LiveRecheckResult } from './http/admit.ts';
import { createHeadResync } from './live-resync.ts';
import type { Logger } from './logger.ts';
import type { LogStore } from './store/types.ts';

/** Asks whether a socket's credentials still let it read its log (Admission.recheck). */
export type LiveRecheck = () => Promise<LiveRecheckResult>;

/** Credential rechecks waiting for the auth hook at once, at most: a slow identity service is asked no faster. */
const RECHECKS_IN_FLIGHT = 32;

interface Subscriber {
  ws: WebSocket;
  log: string;
  recheck: LiveRecheck | undefined;
  /** Date.now() at which its credentials are asked about next. */
  recheckAt: number;
  rechecking: boolean;
  /** Highest head sent to this subscriber; -1 until hello is sent. */
  sent: number;
  /** Highest head heard of before hello went out. */
  heard: number;
  alive: boolean;
  /** Messages the socket has written to the kernel (their send callbacks): what watchDrain sees progress by. */
  written: number;
  /** Messages given to the socket whose send callback has not come yet. */
  unsent: number;
  /** The newest head not sent yet because a message was still unsent (-1: none): see publish. */
  deferred: number;
  /** watchDrain's timer, while messages wait in the socket's buffer. */
  drainTimer: NodeJS.Timeout | undefined;
}

/**
 * A subscriber that does not read: each head move adds a message (a few dozen bytes) to what its socket
 * holds, without end on a busy log. The ping does not bound it: `ws` takes any pong as a sign of life,
 * unsolicited ones too (RFC 6455 allows them), and a client can send those without reading a byte. So
 * while messages wait in the socket's buffer, one of them must reach the kernel every replyMs (as for
 * HTTP replies: progress, not a deadline, see watchUnreadReply); else the socket is terminated. A reader,
 * however slow, drains a message now and then. The timer is unref'd and cleared when the socket closes.
 */
function watchDrain(sub: Subscriber, replyMs: number, logger: Logger): void {
  if (sub.drainTimer || sub.ws.bufferedAmount === 0) return;
  let written = sub.written;
  const timer = setTimeout(function look() {
    if (sub.ws.bufferedAmount === 0 || sub.ws.readyState !== sub.ws.OPEN) {
      sub.drainTimer = undefined;
      return;
    }
    if (sub.written !== written) {
      written = sub.written;
      timer.refresh();
      return;
    }
    sub.drainTimer = undefined;
    logger.warn('live: a subscriber did not read its messages (socket terminated)', {
      log: sub.log,
      unsentBytes: sub.ws.bufferedAmount,
      replyMs,
    });
    sub.ws.terminate();
  }, replyMs);
  timer.unref();
  sub.drainTimer = timer;
}

/** Sends `message` on the subscriber's socket; once it is written, the head that waited for it (publish) goes. */
function send(sub: Subscriber, message: LiveMessage, replyMs: number, logger: Logger): void {
  if (sub.ws.readyState !== sub.ws.OPEN) return;
  sub.unsent++;
  sub.ws.send(JSON.stringify(message), (error) => {
    sub.unsent--;
    if (error) {
      sub.ws.terminate();
      return;
    }
    sub.written++;
    if (sub.unsent === 0 && sub.deferred > sub.sent) sendHeadTo(sub, sub.deferred, replyMs, logger);
  });
  watchDrain(sub, replyMs, logger);
}

function sendHeadTo(sub: Subscriber, head: number, replyMs: number, logger: Logger): void {
  sub.sent = head;
  sub.deferred = -1;
  send(sub, { type: 'head', head }, replyMs, logger);
}

/**
 * The live channel: per log, the WebSockets that follow it. The first message
 * is `hello` with the head; after it, `head` whenever the head moves above what
 * the socket was last told (moves are coalesced, never reported out of order).
 */
export function createLiveHub(store: LogStore, logger: Logger, pingIntervalMs: number, recheckMs = 0, replyMs = 30_000) {
  const byLog = new Map<string, Set<Subscriber>>();
  let count = 0;

  const sendHead = (sub: Subscriber, head: number): void => sendHeadTo(sub, head, replyMs, logger);

  /**
   * Tells each socket following `log` of a head above what it was told. While a socket still holds a
   * message it has not written (a slow reader, a congested link), the newest head waits and goes once
   * that one is written: a busy log then costs a slow socket one message at a time, not one per move
   * held in memory until the socket drains or is terminated (watchDrain).
   */
  const publish = (log: string, head: number): void => {
    const subs = byLog.get(log);
    if (!subs) return;
    for (const sub of subs) {
      if (sub.sent < 0) {
        sub.heard = Math.max(sub.heard, head);
      } else if (head > sub.sent) {
        if (sub.unsent > 0) sub.deferred = Math.max(sub.deferred, head);
        else sendHead(sub, head);
      }
    }
  };

  // Head moves may have been missed (the store's LISTEN connection came back): every followed log's head
  // is read again, a few at a time, and a failed read is retried (live-resync.ts).
  const resync = createHeadResync({
    followed: () => byLog.keys(),
    isFollowed: (log) => byLog.has(log),
    readHead: (log) => store.head(log),
    publish,
    logger,
  });

  const unwatch = store.watch(publish, () => resync.request());

  const pinger = setInterval(() => {
    for (const subs of byLog.values()) {
      for (const sub of subs) {
        if (!sub.alive) {
          sub.ws.terminate();
          continue;
        }
        sub.alive = false;
        sub.ws.ping();
      }
    }
  }, pingIntervalMs);
  pinger.unref();

  /**
   * Each socket's credentials are asked about again every recheckMs, with the
   * request that opened it: a token that expired or was revoked, or a
   * principal that lost read access, closes the socket (4401, 4403) instead
   * of leaving it told about head moves until it closes by itself. The client
   * reconnects with fresh credentials. Spread out: each socket's next ask is
   * due 0.9-1.1 recheckMs after its last answer (the first 0.75-1.25 after it
   * opened), at most RECHECKS_IN_FLIGHT wait for the hook at once, and a
   * socket is asked again only once its last ask settled.
   */
  let rechecksInFlight = 0;
  let closed = false;
  /** Date.now() of the last warning about the auth hook (at most one a minute). */
  let warnedAt = -Infinity;
  const warnOnce = (message: string, facts: Record<string, unknown>): void => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    logger.warn(message, facts);
  };
  const recheck = async (sub: Subscriber): Promise<void> => {
    sub.rechecking = true;
    rechecksInFlight++;
    try {
      const result = await sub.recheck!();
      if ('refused' in result && !closed && sub.ws.readyState === sub.ws.OPEN) {
        const code = result.refused.status === 403 ? 4403 : 4401;
        // A close reason is at most 123 bytes.
        sub.ws.close(code, Buffer.from(result.refused.message).subarray(0, 120).toString());
      } else if ('unanswered' in result) {
        warnOnce('live: the auth hook failed to recheck an open socket (it stays open)', { log: sub.log, error: result.unanswered });
      }
    } finally {
      rechecksInFlight--;
      sub.rechecking = false;
      sub.recheckAt = Date.now() + recheckMs * (0.9 + Math.random() / 5);
    }
  };
  const rechecker =
    recheckMs > 0
      ? setInterval(
          () => {
            const now = Date.now();
            for (const subs of byLog.values()) {
              for (const sub of subs) {
                if (!sub.recheck || sub.rechecking || sub.recheckAt > now) continue;
                if (rechecksInFlight >= RECHECKS_IN_FLIGHT) {
                  warnOnce('live: credential rechecks are waiting for the auth hook', { inFlight: rechecksInFlight });
                  return;
                }
                void recheck(sub);
              }
            }
          },
          Math.min(1000, Math.max(10, Math.floor(recheckMs / 10))),
        )
      : undefined;
  rechecker?.unref();

  return {
    get size(): number {
      return count;
    },

    /** Follows `log` on `ws`: registers first, then reads the head, so no move is missed in between. */
    async add(log: string, ws: WebSocket, recheckCredentials?: LiveRecheck): Promise<void> {
      const recheckAt = Date.now() + recheckMs * (0.75 + Math.random() / 2);
      const sub: Subscriber = {
        ws,
        log,
        recheck: recheckCredentials,
        recheckAt,
        rechecking: false,
        sent: -1,
        heard: -1,
        alive: true,
        written: 0,
        unsent: 0,
        deferred: -1,
        drainTimer: undefined,
      };
      let subs = byLog.get(log);
      if (!subs) byLog.set(log, (subs = new Set()));
      subs.add(sub);
      count++;
      const remove = (): void => {
        clearTimeout(sub.drainTimer);
        const set = byLog.get(log);
        if (set?.delete(sub)) {
          count--;
          if (set.size === 0) byLog.delete(log);
        }
      };
      ws.on('close', remove);
      ws.on('error', () => ws.terminate());
      ws.on('pong', () => {
        sub.alive = true;
      });
      // Clients have nothing to say on this channel; whatever they send is ignored.
      ws.on('message', () => undefined);
      try {
        const head = Math.max(await store.head(log), sub.heard);
        sub.sent = head;
        send(sub, { type: 'hello', protocolVersion: PROTOCOL_VERSION, head }, replyMs, logger);
      } catch (error) {
        logger.warn('live: could not read the head for hello', { log, error: String(error) });
        remove();
        ws.close(1011, 'log store unavailable');
      }
    },

    /** Closes every socket (1001 going away) and stops listening to the store. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(pinger);
      clearInterval(rechecker);
      unwatch();
      resync.close();
      const sockets: WebSocket[] = [];
      for (const subs of byLog.values()) for (const sub of subs) sockets.push(sub.ws);
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === ws.CLOSED) return resolve();
              const timer = setTimeout(() => {
                ws.terminate();
                resolve();
              }, 1000);
              ws.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              ws.close(1001, 'server shutting down');
            }),
        ),
      );
      byLog.clear();
      count = 0;
    },
  };
}
export type LiveHub = ReturnType<typeof createLiveHub>;
