import type pg from 'pg';

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
  close(): Promise<void>;
}

export function createNotificationListener(options: {
  connect: () => pg.Client;
  channel: string;
  onError: (error: Error) => void;
  onHead: (log: string, head: number, by: string | undefined) => void;
  onResync: () => void;
}): NotificationListener {
  const { channel } = options;
  let listener: pg.Client | undefined;
  let closing = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let connectedOnce = false;

  const scheduleReconnect = (): void => {
    if (closing || retryTimer) return;
    const delay = Math.min(10_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connectListener().catch(() => scheduleReconnect());
    }, delay);
    retryTimer.unref();
  };

  async function connectListener(): Promise<void> {
    const client = options.connect();
    client.on('error', (error) => {
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
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (closing) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
    attempt = 0;
    if (connectedOnce) options.onResync();
    connectedOnce = true;
  }

  return {
    start: connectListener,
    async close() {
      closing = true;
      if (retryTimer) clearTimeout(retryTimer);
      const client = listener;
      listener = undefined;
      if (client) await client.end().catch(() => undefined);
    },
  };
}
