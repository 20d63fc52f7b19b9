/**
 * How the log store reaches its database: the PostgreSQL store (node-postgres
 * pool) and the PGlite store (one embedded connection) each implement this,
 * and everything above it is written once (sql-log-store.ts).
 */

export interface SqlExecutor {
  /** `name`: a statement run often, which the driver may prepare once per connection. */
  query<R extends object>(text: string, params?: readonly unknown[], name?: string): Promise<R[]>;
}

/** What a driver's connections are doing, for /metrics. */
export interface PoolStats {
  /** Connections open (busy or idle). */
  total: number;
  idle: number;
  /** Callers waiting for a connection. */
  waiting: number;
  max: number;
}

/**
 * Where the fast path's writes go: statements reach the database in call
 * order, and `onSent` says when one is on its connection (the pipeline
 * answers the pushes of the write before it only then: push-pipeline.ts).
 * `onSent` is called at most once; not at all when the statement failed
 * before it was sent.
 */
export interface OrderedExecutor {
  query<R extends object>(text: string, params: readonly unknown[], name: string | undefined, onSent: () => void): Promise<R[]>;
}

export interface SqlDriver extends SqlExecutor {
  /**
   * Like query, but the statements given to it reach the database in call
   * order: each is handed to its connection before the next one is, and
   * `onSent` is called when it has been. Without it, query is taken to do so
   * at once (one connection, as PGlite). The fast path's chained writes need
   * it: a write must take its ticket before the write judged behind it looks
   * for that ticket (see statements.ts, writeSql).
   */
  queryInOrder?<R extends object>(text: string, params: readonly unknown[], name?: string, onSent?: () => void): Promise<R[]>;
  /** Runs fn in one READ COMMITTED transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (schema set-up). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
  /** Connection use, when the driver has a pool. */
  stats?(): PoolStats;
  /** The role its connections log in as, when known without a query (for errors while none can be opened). */
  readonly role?: string;
}
