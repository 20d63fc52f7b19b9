import pg from 'pg';
import { SyncError } from '../errors.ts';
import { createSqlLogStore, migrate, type SqlDriver, type SqlExecutor } from './sql.ts';
import type { LogStore } from './types.ts';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * LISTEN/NOTIFY channel on which servers sharing this database announce head
   * moves (default "chronicle_heads"). NOTIFY is scoped to one database, so the
   * name only needs to differ between unrelated deployments sharing a database.
   */
  channel?: string;
  /** Called with errors of the notification connection (it reconnects by itself). */
  onError?: (error: Error) => void;
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Connection-level failures become UNAVAILABLE (503): the client may retry the same request. */
function mapPgError(error: unknown): unknown {
  if (error instanceof SyncError) return error;
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (
    CONNECTION_ERROR_CODES.has(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' ||
    code === '57P03' || // cannot connect now
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)
  ) {
    return new SyncError('UNAVAILABLE', `The database is unavailable: ${message}`, { cause: message });
  }
  return error;
}

/** An error that PostgreSQL reported for a statement, on a connection that is still fine. */
function isStatementError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

function executor(client: pg.PoolClient | pg.Pool): SqlExecutor {
  return {
    async query<R extends object>(text: string, params: readonly unknown[] = [], name?: string): Promise<R[]> {
      const result = await client.query<R & pg.QueryResultRow>(name ? { name, text, values: [...params] } : { text, values: [...params] });
      return result.rows;
    },
  };
}

/**
 * A log store in PostgreSQL. Several server processes may share one database:
 * pushes serialise per log on the log's row lock, and every push that moves a
 * head NOTIFYs the channel in its transaction, so the other processes' live
 * subscribers hear of it when it commits.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<LogStore> {
  const channel = options.channel ?? 'chronicle_heads';
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`Invalid channel name "${channel}": use lower-case letters, digits and _`);
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 });
  // An idle pooled client that loses its connection emits 'error' on the pool; without a listener it would crash the process.
  pool.on('error', (error) => options.onError?.(error));

  /** Settles when the last statement given to queryInOrder has been handed to its connection. */
  let lane: Promise<void> = Promise.resolve();
  /** Connections that have run a statement of the lane (warm: their backend has loaded its caches). */
  const laneClients = new WeakSet<pg.PoolClient>();

  const driver: SqlDriver = {
    ...executor(pool),
    async queryInOrder<R extends object>(text: string, params: readonly unknown[], name?: string): Promise<R[]> {
      // Each statement waits until the one before it is on its connection before taking one itself: a
      // statement given an idle connection must not overtake one still waiting for a new connection.
      let handed!: () => void;
      const turn = lane.then(() => pool.connect());
      lane = new Promise<void>((resolve) => (handed = resolve));
      let client: pg.PoolClient;
      try {
        client = await turn;
      } catch (error) {
        handed();
        throw error;
      }
      let broken: Error | undefined;
      try {
        // client.query writes the statement to the connection before it returns (the client is idle). On a
        // connection new to the lane, the next statement waits until this one is done: a new backend loads
        // its caches first, and the statement sent after this one could run ahead of it.
        const pending = client.query<R & pg.QueryResultRow>(name ? { name, text, values: [...params] } : { text, values: [...params] });
        if (laneClients.has(client)) handed();
        return (await pending).rows;
      } catch (error) {
        // A statement that failed (it has a SQLSTATE) leaves its connection usable; anything else may not have.
        if (!isStatementError(error)) broken = error as Error;
        throw error;
      } finally {
        handed();
        if (!broken) laneClients.add(client);
        client.release(broken);
      }
    },
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async exec(script) {
      await pool.query(script);
    },
    close: () => pool.end(),
  };

  await migrate(driver, { advisoryLock: true });

  // The notification connection lives outside the pool; it reconnects with backoff, and after a
  // reconnect tells watchers to re-read heads (notifications sent while it was away are lost).
  let listener: pg.Client | undefined;
  let closing = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let connectedOnce = false;

  const store = createSqlLogStore({
    kind: 'postgres',
    driver,
    notifyChannel: channel,
    mapError: mapPgError,
    async onClose() {
      closing = true;
      if (retryTimer) clearTimeout(retryTimer);
      const client = listener;
      listener = undefined;
      if (client) await client.end().catch(() => undefined);
    },
  });

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
    const client = new pg.Client({ connectionString: options.connectionString });
    client.on('error', (error) => {
      options.onError?.(error);
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      scheduleReconnect();
    });
    client.on('notification', (message) => {
      if (message.channel !== channel || !message.payload) return;
      try {
        const { log, head, by } = JSON.parse(message.payload) as { log?: unknown; head?: unknown; by?: unknown };
        if (typeof log === 'string' && typeof head === 'number') store.emitHead(log, head, typeof by === 'string' ? by : undefined);
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
    if (connectedOnce) store.emitResync();
    connectedOnce = true;
  }

  try {
    await connectListener();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
