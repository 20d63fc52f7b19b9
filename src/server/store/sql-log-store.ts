import { SyncError } from '../errors.ts';
import { createLogKnowledge } from './log-knowledge.ts';
import { lockLog } from './log-state.ts';
import { moveRefusal, toLogMove } from './move-state.ts';
import { createPushPipeline, DEFAULT_WRITES_IN_FLIGHT } from './push-pipeline.ts';
import { NOT_PERMITTED } from './schema-access.ts';
import {
  checkSchemaVersion,
  checkServingPrivileges,
  checkTablesPresent,
  readSchemaVersion,
  schemaMismatch,
  SCHEMA_VERSION,
  servingRefusal,
} from './schema.ts';
import type { OrderedExecutor, SqlDriver } from './sql-driver.ts';
import { readPull } from './read-pull.ts';
import { FENCE_SQL, num } from './statements.ts';
import type { FenceResult, HeadListener, LogStore, PullInput, PushResult, ResyncListener, StoreStats } from './types.ts';
import { writeStatement } from './write-statement.ts';
/**
 * The log store written once in PostgreSQL's SQL, shared by the PGlite and the
 * PostgreSQL stores: they differ only in how statements reach the database
 * (SqlDriver) and in how head moves reach other processes.
 *
 * A push, in short (docs/protocol.md has the rules, push-judge.ts decides):
 * pushes to one log queue in this process and are applied in batches, in
 * arrival order, each push judged alone (push-pipeline.ts). The fast path
 * judges a batch against what this process knows of the log (log-knowledge.ts:
 * what it read or wrote last, valid while the log's head and write id are
 * unchanged) and writes it in one statement that locks the log's row and
 * writes only if both still hold; the pushes that arrive while it runs go in
 * the next batch (with maxWritesInFlight above one, a batch can be sent while
 * the previous one's write is still running: it follows that write or fails).
 * Anything uncertain, and logs that another process writes too, take the slow
 * path: one transaction that locks, reads, judges, writes, commits.
 *
 * This file is the store around it: pulls, fences, heads, watchers, errors.
 */

export interface SqlLogStoreOptions {
  kind: string;
  driver: SqlDriver;
  /**
   * When set, every push that moves the head also runs pg_notify(channel, '{"log":..,"head":..,"by":..}')
   * in its transaction; `by` names the store that wrote (see SqlLogStore.writerId).
   */
  notifyChannel?: string;
  /** Turns driver errors (connection lost...) into SyncErrors; others pass through. */
  mapError?: (error: unknown) => unknown;
  /** At most this many events in one push transaction when concurrent pushes to a log are coalesced (default 5000). */
  maxBatchEvents?: number;
  /**
   * Fast-path writes to one log sent before the one before them is answered
   * (default 1: pushes that arrive while a write runs go together in the next
   * one; see push-pipeline.ts). A positive integer.
   */
  maxWritesInFlight?: number;
  /**
   * How many client marks and aggregate heads per log this process keeps to judge
   * pushes without reading them (default 50,000; the log's head tells whether
   * they still hold).
   */
  maxCachedKeys?: number;
  /** Connection failures the driver saw (counted into stats().errors). */
  connectionErrors?: () => number;
  /** Whether the LISTEN connection is up, for a store that has one (stats().listen). */
  listenConnected?: () => boolean;
  /** Extra work for close(), after the driver is closed. */
  onClose?: () => Promise<void>;
}

export interface SqlLogStore extends LogStore {
  /** Names this store in its notifications, so that it can tell its own from another process's. */
  readonly writerId: string;
  /** How its statements reach the database (a log move reads and writes through it: log-move.ts). */
  readonly driver: SqlDriver;
  /** Forgets what this process knows of a log (after a move changed it under this store). */
  forget(log: string): void;
  /**
   * Reports a head move learnt from elsewhere to this store's watchers; `by` is
   * the writerId in the notification (another process's write when it is not
   * this store's).
   */
  emitHead(log: string, head: number, by?: string): void;
  /** Tells watchers that head moves may have been missed. */
  emitResync(): void;
}

/** SQLSTATEs of a statement that names a table or column this server's schema has and the database's lacks (or the reverse). */
const SCHEMA_ERRORS = new Set(['42703', '42P01']);
/** For /ready: the tables every push and pull reads can be read (no lock keeps them). */
const READABLE_SQL = 'SELECT (SELECT 1 FROM chronicle_logs LIMIT 1) AS logs, (SELECT 1 FROM chronicle_pages LIMIT 1) AS pages';

/**
 * A statement that named a relation or column the database lacks: a newer
 * server migrated it (schemaMismatch), or at this version, a table or column
 * was dropped or renamed by hand (schemaDamaged, naming what is missing).
 */
async function schemaExplained(driver: SqlDriver, error: unknown): Promise<SyncError | undefined> {
  const stored = await readSchemaVersion(driver).catch(() => undefined);
  if (stored !== undefined && stored !== SCHEMA_VERSION) return schemaMismatch(stored);
  const cause = error instanceof Error ? error.message : String(error);
  const damaged = await checkTablesPresent(driver, cause).catch((found: unknown) => found);
  return damaged instanceof SyncError ? damaged : undefined;
}

/** stats(): the pool's use, the failures counted, and the LISTEN connection for a store that has one. */
function statsOf(options: SqlLogStoreOptions, storeErrors: number): StoreStats {
  const pool = options.driver.stats?.();
  const { listenConnected } = options;
  return {
    ...(pool ? { pool } : {}),
    errors: storeErrors + (options.connectionErrors?.() ?? 0),
    ...(listenConnected ? { listen: { connected: listenConnected() ? 1 : 0, total: 1 } } : {}),
  };
}

export function createSqlLogStore(options: SqlLogStoreOptions): SqlLogStore {
  const { driver, notifyChannel } = options;
  const mapError = options.mapError ?? ((e: unknown) => e);
  const headListeners = new Set<HeadListener>();
  const resyncListeners = new Set<ResyncListener>();
  let closed = false;
  let storeErrors = 0;
  /** Where the fast path's writes go: to the database in the order they are sent (see SqlDriver.queryInOrder). */
  const ordered: OrderedExecutor = {
    query<R extends object>(text: string, params: readonly unknown[], name: string | undefined, onSent: () => void): Promise<R[]> {
      if (driver.queryInOrder) return driver.queryInOrder<R>(text, params, name, onSent);
      // One connection (PGlite): a statement is in line for it as soon as it is given.
      const answer = driver.query<R>(text, params, name);
      onSent();
      return answer;
    },
  };
  const knowledge = createLogKnowledge(options.maxCachedKeys);
  const { writerId } = knowledge;

  const emitHead = (log: string, head: number, by?: string): void => {
    if (by !== undefined && by !== writerId) {
      // Another process writes this log: what this one knows of it is stale, and it is shared for a while.
      knowledge.forget(log);
      knowledge.contend(log);
    } else {
      // (The cache runs ahead of this process's writes in flight, so its own notifications never get past it.)
      const cache = knowledge.get(log);
      if (cache && head > cache.head) knowledge.forget(log);
    }
    for (const listener of headListeners) {
      try {
        listener(log, head);
      } catch {
        // A watcher's failure must not fail the push that already committed.
      }
    }
  };
  const emitResync = (): void => {
    knowledge.clear();
    for (const listener of resyncListeners) {
      try {
        listener();
      } catch {
        // ignore
      }
    }
  };

  /**
   * The error a caller gets: driver failures mapped (UNAVAILABLE for a lost
   * database); a privilege refused explained (servingRefusal); a statement
   * that names what the database lacks is explained by the schema versions
   * when they differ (a newer server migrated it).
   */
  const explain = async (error: unknown): Promise<unknown> => {
    const code = (error as { code?: unknown } | null)?.code;
    const refused = code === NOT_PERMITTED ? await servingRefusal(driver, error).catch(() => undefined) : undefined;
    const mapped = refused ?? mapError(error);
    if (mapped instanceof SyncError && mapped.code === 'UNAVAILABLE') storeErrors++;
    if (refused) return refused;
    if (typeof code === 'string' && SCHEMA_ERRORS.has(code)) {
      storeErrors++;
      return (await schemaExplained(driver, error)) ?? mapped;
    }
    return mapped;
  };

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' });
    try {
      return await fn();
    } catch (error) {
      throw await explain(error);
    }
  };

  const pipeline = createPushPipeline({
    driver,
    ordered,
    statement: writeStatement(notifyChannel === undefined ? undefined : { channel: notifyChannel, writerId }),
    knowledge,
    maxBatchEvents: options.maxBatchEvents ?? 5000,
    maxFlights: options.maxWritesInFlight ?? DEFAULT_WRITES_IN_FLIGHT,
    emitHead,
    explain,
  });

  const store: SqlLogStore = {
    kind: options.kind,

    push(log, push, prepared) {
      if (closed) return Promise.reject(new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' }));
      // The events' JSON is made here, before the push queues: not while the log is locked.
      const json = prepared?.eventsJson ?? push.events.map((e) => JSON.stringify(e));
      return new Promise<PushResult>((resolve, reject) => {
        pipeline.push(log, { push, json, deadline: prepared?.deadline, resolve, reject });
      });
    },

    pushDecoded(log, push, prepared) {
      if (closed) return Promise.reject(new SyncError('UNAVAILABLE', 'The log store is closed', { reason: 'store-closed' }));
      return new Promise<PushResult>((resolve, reject) => {
        pipeline.push(log, { push, json: push.eventsJson, deadline: prepared?.deadline, resolve, reject });
      });
    },

    pull(log, input: PullInput) {
      return guard(() => readPull(driver, log, input));
    },

    fence(log, clientId, epoch): Promise<FenceResult> {
      return guard(async () => {
        const fenceId = `fence:${knowledge.nextWrite().id}`;
        const row = await driver.transaction(async (tx) => {
          const locked = await lockLog(tx, log);
          await checkSchemaVersion(tx);
          const refusal = moveRefusal(log, locked.move, true);
          if (refusal) throw refusal;
          const rows = await tx.query<{ client_seq: string | number; epoch: string | number }>(FENCE_SQL, [log, clientId, epoch, fenceId]);
          return rows[0];
        });
        // Whatever this process knew of the log is as of the old write id; fast writes judged on it fail their check.
        knowledge.forget(log);
        return { epoch: num(row?.epoch), clientSeq: num(row?.client_seq) };
      });
    },

    head(log) {
      return guard(async () => {
        const rows = await driver.query<{ head: string | number; move_state: string | null; move_peer: string | null }>(
          'SELECT head, move_state, move_peer FROM chronicle_logs WHERE log = $1',
          [log],
        );
        const refusal = moveRefusal(log, toLogMove(rows[0]?.move_state, rows[0]?.move_peer), false);
        if (refusal) throw refusal;
        return num(rows[0]?.head);
      });
    },

    clientSeq(log, clientId) {
      return guard(async () => {
        const rows = await driver.query<{ client_seq: string | number | null; move_state: string | null; move_peer: string | null }>(
          `SELECT c.client_seq, l.move_state, l.move_peer FROM (SELECT 1) AS one
             LEFT JOIN chronicle_logs l ON l.log = $1 LEFT JOIN chronicle_clients c ON c.log = $1 AND c.client_id = $2`,
          [log, clientId],
        );
        const refusal = moveRefusal(log, toLogMove(rows[0]?.move_state, rows[0]?.move_peer), false);
        if (refusal) throw refusal;
        return num(rows[0]?.client_seq);
      });
    },

    watch(onHead, onResync) {
      headListeners.add(onHead);
      if (onResync) resyncListeners.add(onResync);
      return () => {
        headListeners.delete(onHead);
        if (onResync) resyncListeners.delete(onResync);
      };
    },

    ping() {
      // Reachable, at this server's schema version (a newer server may have migrated the database), and
      // still allowed to write (a GRANT may have been revoked since the start).
      return guard(async () => {
        await checkTablesPresent(driver);
        await checkSchemaVersion(driver);
        await checkServingPrivileges(driver);
        // A table locked against reads (LOCK TABLE, ALTER TABLE, VACUUM FULL) stops every push and pull:
        // this read waits on that lock like they do, so /ready says so instead of "ready".
        await driver.query(READABLE_SQL);
      });
    },

    stats: () => statsOf(options, storeErrors),

    async close() {
      if (closed) return;
      closed = true;
      pipeline.close();
      headListeners.clear();
      resyncListeners.clear();
      knowledge.clear();
      await driver.close();
      await options.onClose?.();
    },

    writerId,
    driver,
    forget: (log) => knowledge.forget(log),
    emitHead,
    emitResync,
  };
  return store;
}
