import type pg from 'pg';
import { endWithin } from './pg-close.ts';

/**
 * The PostgreSQL store's LISTEN connection: head moves that other server
 * processes announce (NOTIFY in their push transactions) reach this process's
 * live subscribers. It lives outside the pool, reconnects with backoff when
 * lost, and after a reconnect asks for a resync (notifications sent while it
 * was away are lost, so watchers re-read the heads they care about).
 */
export interface NotificationListener {
  /** Connects and LISTENs; rejects when the first connection fails. */
  start(): Promise<void>;
  /**
   * Whether the LISTEN connection is up: false from its loss until a
   * reconnect succeeds, while other processes' head moves go unheard
   * (/ready's `live` detail and the chronicle_live_listen_connected gauge).
   */
  connected(): boolean;
  close(): Promise<void>;
}

/** How often the LISTEN connection is asked a trivial query, by default: a connection a network dropped silently answers none. */
export const NOTIFICATION_CHECK_MS = 30_000;

/** A failed reconnect, saying what it is: the driver's message alone ("connection refused") does not say which connection. */
function reconnectFailure(error: unknown, attempt: number): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(
    `the LISTEN connection could not reconnect (attempt ${attempt}; head moves of other server processes are not heard until it does): ${message}`,
    { cause: error },
  );
}

export function createNotificationListener(options: {
  connect: () => pg.Client;
  channel: string;
  /** The connection was lost, its check failed, or a reconnect failed (each attempt); it keeps trying. */
  onError: (error: Error) => void;
  onHead: (log: string, head: number, by: string | undefined) => void;
  onResync: () => void;
  /** See NOTIFICATION_CHECK_MS; a check fails after the connection's query_timeout. */
  checkMs?: number;
}): NotificationListener {
  const { channel } = options;
  let listener: pg.Client | undefined;
  let closing = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let connectedOnce = false;

  /**
   * A LISTEN connection only receives: one whose network went silent (no FIN,
   * no reset) never errs, and the notifications stop without a word (TCP
   * keepalive notices after about 11 minutes with Linux's defaults). A query
   * now and then that gets no answer within the query timeout ends it, and it
   * reconnects and asks for a resync.
   */
  let checking = false;
  const checkTimer = setInterval(() => {
    const client = listener;
    if (!client || checking || closing) return;
    checking = true;
    client
      .query('SELECT 1')
      .catch((error: unknown) => {
        if (listener !== client) return;
        listener = undefined;
        options.onError(error instanceof Error ? error : new Error(String(error)));
        void endWithin(client.end(), () => [client], 0);
        scheduleReconnect();
      })
      .finally(() => (checking = false));
  }, options.checkMs ?? NOTIFICATION_CHECK_MS);
  checkTimer.unref();

  const scheduleReconnect = (): void => {
    if (closing || retryTimer) return;
    const delay = Math.min(10_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt++;
    const tried = attempt;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connectListener().catch((error: unknown) => {
        // Reported, not swallowed: while this lasts, the live sockets of this process hear nothing of
        // other processes' pushes, and the operator should see why (logged, chronicle_db_errors_total).
        if (!closing) options.onError(reconnectFailure(error, tried));
        scheduleReconnect();
      });
    }, delay);
    retryTimer.unref();
  };

  async function connectListener(): Promise<void> {
    const client = options.connect();
    let established = false;
    /** A failure before LISTEN succeeded: it fails this attempt, which the caller reports (once). */
    let early: Error | undefined;
    client.on('error', (error) => {
      if (!established) {
        early ??= error;
        return;
      }
      options.onError(error);
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      scheduleReconnect();
    });
    client.on('notification', (message) => {
      if (message.channel !== channel || !message.payload) return;
      try {
        const { log, head, by } = JSON.parse(message.payload) as { log?: unknown; head?: unknown; by?: unknown };
        if (typeof log === 'string' && typeof head === 'number') options.onHead(log, head, typeof by === 'string' ? by : undefined);
      } catch {
        // Not ours: ignore.
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
      if (early) throw early;
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (closing) {
      await client.end().catch(() => undefined);
      return;
    }
    established = true;
    listener = client;
    attempt = 0;
    if (connectedOnce) options.onResync();
    connectedOnce = true;
  }

  return {
    start: connectListener,
    connected: () => listener !== undefined,
    async close() {
      closing = true;
      clearInterval(checkTimer);
      if (retryTimer) clearTimeout(retryTimer);
      const client = listener;
      listener = undefined;
      if (client) await endWithin(client.end(), () => [client]);
    },
  };
}
