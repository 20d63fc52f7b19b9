import { ConfigError } from '../../core/errors.ts';
import type pg from 'pg';
import { SyncError } from '../errors.ts';
import { defaultExport, loadPeer, type PeerImporter } from '../optional-peer.ts';
import { endWithin } from './pg-close.ts';
import { createNotificationListener, type NotificationListener } from './pg-notifications.ts';
import { createSqlLogStore } from './sql-log-store.ts';
import { unavailableError, unavailableState } from './sql-errors.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';
import type { MigrationProgressListener } from './migrate-pages.ts';
import { migrate } from './schema.ts';
import type { LogStore } from './types.ts';

/**
 * Every wait on the database is bounded, so that a database that stops
 * answering (a dropped or blackholed connection) turns into 503 UNAVAILABLE
 * replies within a known time instead of requests that hang; when it answers
 * again, new connections work and the server recovers by itself.
 */
export interface PostgresTimeouts {
  /** Opening a connection, and waiting for a free one in the pool (pg's connectionTimeoutMillis). Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** How long the server lets one statement run (statement_timeout). Default 10,000 ms. */
  statementTimeoutMs?: number;
  /** How long a statement waits for a lock (lock_timeout). Default 5,000 ms. */
  lockTimeoutMs?: number;
  /**
   * How long the client waits for a statement's reply (pg's query_timeout): the
   * bound that holds when the network, not the server, is what fails. Default
   * statementTimeoutMs + 2,000 ms.
   */
  queryTimeoutMs?: number;
  /**
   * The database ends a session left idle inside a transaction
   * (idle_in_transaction_session_timeout), and with it the locks it holds.
   * Chronicle's transactions never wait between their statements on purpose,
   * so such a session is a server whose connection a network dropped without
   * a word: until it ends, the log it locked takes no writes from any server.
   * Default statementTimeoutMs (10,000 ms).
   */
  idleInTransactionTimeoutMs?: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: Required<PostgresTimeouts> = {
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  lockTimeoutMs: 5_000,
  queryTimeoutMs: 12_000,
  idleInTransactionTimeoutMs: 10_000,
};

export interface PostgresStoreOptions extends PostgresTimeouts {
  /** postgres://user:password@host:port/database */
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Writes to one log sent to the database before the one before them is
   * answered (default 1). With 1, pushes that arrive while a write runs go
   * together in the next write, which costs the database least per event (on
   * 2 cores, about a quarter less CPU than 3). More overlap the writes' index
   * work, for a database server with cores to spare. A positive integer.
   */
  maxWritesInFlight?: number;
  /**
   * LISTEN/NOTIFY channel on which servers sharing this database announce head
   * moves (default "chronicle_heads"). NOTIFY is scoped to one database, so the
   * name only needs to differ between unrelated deployments sharing a database.
   */
  channel?: string;
  /**
   * How often the LISTEN connection (head moves announced by other server
   * processes) is checked with a trivial query, in ms (default 30,000): one a
   * network dropped without a word is then replaced within this plus the
   * query timeout, and live subscribers resync.
   */
  notificationCheckMs?: number;
  /** Called with connection errors (a pooled connection lost, the notification connection lost; both recover by themselves). */
  onError?: (error: Error) => void;
  /**
   * Called as an upgrade of an older database moves events (schema 4 to 5,
   * at the store's start, in windows of 10,000 events): how many so far. Such
   * an upgrade takes about 2 s per 100,000 events, and the store is not open
   * until it is done; the CLI logs it.
   */
  onMigrationProgress?: MigrationProgressListener;
  /**
   * How to load the "pg" package (tests replace it); resolves to the pg module.
   * Typed loosely on purpose: a pg type here would make every consumer of the
   * declarations install pg's types, though pg is an optional peer.
   */
  importPg?: PeerImporter<unknown>;
}

/** Resolves the timeouts: defaults for what is not given; queryTimeoutMs and idleInTransactionTimeoutMs follow statementTimeoutMs unless set. */
export function resolvePostgresTimeouts(options: PostgresTimeouts = {}): Required<PostgresTimeouts> {
  const out = { ...DEFAULT_POSTGRES_TIMEOUTS };
  for (const key of Object.keys(DEFAULT_POSTGRES_TIMEOUTS) as (keyof PostgresTimeouts)[]) {
    const value = options[key];
    if (value === undefined) continue;
    // PostgreSQL's timeout settings and Node's timers take at most 2^31 - 1 ms.
    if (!Number.isInteger(value) || value <= 0 || value > 2_147_483_647)
      throw new ConfigError(`${key} must be a positive integer (milliseconds) of at most 2147483647, got ${String(value)}`);
    out[key] = value;
  }
  if (options.queryTimeoutMs === undefined) out.queryTimeoutMs = Math.min(out.statementTimeoutMs + 2_000, 2_147_483_647);
  if (options.idleInTransactionTimeoutMs === undefined) out.idleInTransactionTimeoutMs = out.statementTimeoutMs;
  return out;
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Errors thrown while a pooled connection was being opened (see unavailability). */
const connectFailures = new WeakSet<object>();

/**
 * Whether a failure is the database being unavailable (not a bug), and of
 * which kind: the connection failed or was cut, or the pool was ended (a
 * shutdown), or the database cannot serve now (sql-errors.ts: shutting down,
 * out of disk or connections, a bounded wait that ran out).
 */
export function unavailability(error: unknown): 'timeout' | 'unavailable' | undefined {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const byState = unavailableState(code);
  if (byState) return byState;
  // Whatever PostgreSQL said while a connection was being opened (55000 for a database that allows no
  // connections now, an authentication failure, too many clients), no statement ran: the database cannot
  // serve this request, which a retry may find it doing again.
  if (connectFailures.has(error as object)) return 'unavailable';
  const lost =
    CONNECTION_ERROR_CODES.has(code) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|timeout expired|Query read timeout|Client has encountered a connection error|Client was closed|not queryable|Cannot use a pool after calling end/i.test(
      message,
    );
  return lost ? 'unavailable' : undefined;
}

/** Connection-level failures become UNAVAILABLE (503): the client may retry the same request. */
export function mapPgError(error: unknown): unknown {
  if (error instanceof SyncError) return error;
  const kind = unavailability(error);
  return kind ? unavailableError(kind, error) : error;
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
 *
 * A lost connection never takes the process down: every client, idle or
 * checked out, has an 'error' listener, a client that failed is destroyed
 * rather than returned to the pool, and the failure reaches the caller as
 * UNAVAILABLE.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<LogStore> {
  const importPg = (options.importPg ?? (() => import('pg'))) as PeerImporter<typeof pg | { default: typeof pg }>;
  const pgModule = defaultExport(await loadPeer('pg', 'createPostgresStore', importPg));
  const channel = options.channel ?? 'chronicle_heads';
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`Invalid channel name "${channel}": use lower-case letters, digits and _`);
  const timeouts = resolvePostgresTimeouts(options);
  const { maxWritesInFlight } = options;
  if (maxWritesInFlight !== undefined && (!Number.isInteger(maxWritesInFlight) || maxWritesInFlight < 1)) {
    throw new ConfigError(`maxWritesInFlight must be a positive integer, got ${String(maxWritesInFlight)}`);
  }
  const checkMs = options.notificationCheckMs;
  if (checkMs !== undefined && (!Number.isInteger(checkMs) || checkMs < 1 || checkMs > 2_147_483_647)) {
    throw new ConfigError(`notificationCheckMs must be a positive integer (milliseconds) of at most 2147483647, got ${String(checkMs)}`);
  }
  const connectionConfig = {
    connectionString: options.connectionString,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
    lock_timeout: timeouts.lockTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
    // A peer that vanished without a FIN or RST (a blackholed network) is noticed by TCP keepalive too.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const poolSize = options.poolSize ?? 10;
  const pool = new pgModule.Pool({ ...connectionConfig, max: poolSize });
  let connectionErrors = 0;
  const onConnectionError = (error: Error): void => {
    connectionErrors++;
    options.onError?.(error);
  };
  // An idle pooled client that loses its connection emits 'error' on the pool; without a listener it would crash the process.
  pool.on('error', onConnectionError);
  // Every connection the pool holds, for a close that cannot wait on a silent network (pg-close.ts).
  const pooled = new Set<pg.PoolClient>();
  /**
   * pg-pool listens for 'error' only on idle clients: a client that is checked
   * out and loses its connection emits 'error' with no listener, which kills
   * the process. So every client gets a listener of its own that records the
   * failure (the query in flight fails on its own), as the pool makes it:
   * 'connect' is emitted before the client is handed out, in the same turn as
   * the connection's ReadyForQuery. Attached any later (once the caller of
   * pool.connect() runs again), a message read in the same chunk as that
   * ReadyForQuery, such as the FATAL of a backend terminated right after it
   * started, finds no listener.
   */
  pool.on('connect', (client) => {
    client.on('error', onConnectionError);
    pooled.add(client);
  });
  pool.on('remove', (client) => pooled.delete(client));

  const connect = async (): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (error) {
      if (typeof error === 'object' && error !== null) connectFailures.add(error);
      throw error;
    }
  };
  /** Gives a client back; a client whose connection may be broken is destroyed instead of pooled. */
  const release = (client: pg.PoolClient, error: unknown): void => {
    const broken = error !== undefined && !isStatementError(error);
    client.release(broken ? (error instanceof Error ? error : new Error(String(error))) : undefined);
  };

  /** Settles when the last statement given to queryInOrder has been handed to its connection. */
  let lane: Promise<void> = Promise.resolve();
  /** Connections that have run a statement of the lane (warm: their backend has loaded its caches). */
  const laneClients = new WeakSet<pg.PoolClient>();

  // The role as configured (connection string, PGUSER, the OS user), for errors while no connection can be opened.
  const role = new pgModule.Client({ connectionString: options.connectionString }).user;
  const driver: SqlDriver = {
    ...(role ? { role } : {}),
    async query<R extends object>(text: string, params: readonly unknown[] = [], name?: string): Promise<R[]> {
      const client = await connect();
      let failure: unknown;
      try {
        return await executor(client).query<R>(text, params, name);
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        release(client, failure);
      }
    },
    async queryInOrder<R extends object>(text: string, params: readonly unknown[], name?: string, onSent?: () => void): Promise<R[]> {
      // Each statement waits until the one before it is on its connection before taking one itself: a
      // statement given an idle connection must not overtake one still waiting for a new connection.
      let handed!: () => void;
      const turn = lane.then(() => connect());
      lane = new Promise<void>((resolve) => (handed = resolve));
      let client: pg.PoolClient;
      try {
        client = await turn;
      } catch (error) {
        handed();
        throw error;
      }
      let failure: unknown;
      try {
        // client.query writes the statement to the connection before it returns (the client is idle). On a
        // connection new to the lane, the next statement waits until this one is done: a new backend loads
        // its caches first, and the statement sent after this one could run ahead of it.
        const pending = client.query<R & pg.QueryResultRow>(name ? { name, text, values: [...params] } : { text, values: [...params] });
        onSent?.();
        if (laneClients.has(client)) handed();
        return (await pending).rows;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        handed();
        // A statement that failed (it has a SQLSTATE) leaves its connection usable; anything else may not have.
        if (failure === undefined || isStatementError(failure)) laneClients.add(client);
        release(client, failure);
      }
    },
    async transaction(fn) {
      const client = await connect();
      let failure: unknown;
      try {
        await client.query('BEGIN');
        const result = await fn(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failure = error;
        // ROLLBACK only on a connection that still answers: on a lost or silent one it would wait out
        // another query timeout, and destroying the client ends the transaction anyway.
        if (isStatementError(error)) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            failure = rollbackError;
          }
        }
        throw error;
      } finally {
        release(client, failure);
      }
    },
    async exec(script) {
      await driver.query(script);
    },
    close: () => endWithin(pool.end(), () => pooled),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: poolSize }),
  };

  try {
    await migrate(driver, { advisoryLock: true, onProgress: options.onMigrationProgress });
  } catch (error) {
    await endWithin(pool.end(), () => pooled);
    throw mapPgError(error);
  }

  // The notification connection lives outside the pool (pg-notifications.ts); the store closes it.
  const listening: { notifications?: NotificationListener } = {};
  const store = createSqlLogStore({
    kind: 'postgres',
    driver,
    notifyChannel: channel,
    mapError: mapPgError,
    connectionErrors: () => connectionErrors,
    listenConnected: () => listening.notifications?.connected() ?? false,
    onClose: () => listening.notifications?.close() ?? Promise.resolve(),
    ...(maxWritesInFlight === undefined ? {} : { maxWritesInFlight }),
  });
  const notifications = createNotificationListener({
    connect: () => new pgModule.Client(connectionConfig),
    channel,
    onError: onConnectionError,
    onHead: (log, head, by) => store.emitHead(log, head, by),
    onResync: () => store.emitResync(),
    ...(options.notificationCheckMs === undefined ? {} : { checkMs: options.notificationCheckMs }),
  });
  listening.notifications = notifications;
  try {
    await notifications.start();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw mapPgError(error);
  }
  return store;
}
