import { SyncError } from '../errors.ts';
import type { HeadListener, LogStore, PullInput, PullPage, PushInput, PushResult, ResyncListener } from './types.ts';

/**
 * The log store written once in PostgreSQL's SQL, shared by the PGlite and the
 * PostgreSQL stores: they differ only in how statements reach the database
 * (SqlDriver) and in how head moves reach other processes.
 *
 * Every parameter that is a list travels as one JSON text (json_to_recordset,
 * json_array_elements_text) so both drivers bind the same scalar parameters.
 */

export interface SqlExecutor {
  query<R extends object>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface SqlDriver extends SqlExecutor {
  /** Runs fn in one READ COMMITTED transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (schema set-up). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

export const SCHEMA_VERSION = 1;

/** Tables of every log, created if missing. Safe to run concurrently from several processes (see migrate). */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS chronicle_schema (
  version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS chronicle_logs (
  log text PRIMARY KEY,
  head bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chronicle_events (
  log text NOT NULL,
  position bigint NOT NULL,
  id text NOT NULL,
  aggregate_id text NOT NULL,
  seq bigint NOT NULL,
  client_id text NOT NULL,
  client_seq bigint NOT NULL,
  event json NOT NULL,
  PRIMARY KEY (log, position),
  UNIQUE (log, id),
  UNIQUE (log, client_id, client_seq),
  UNIQUE (log, aggregate_id, seq)
);
CREATE TABLE IF NOT EXISTS chronicle_aggregates (
  log text NOT NULL,
  aggregate_id text NOT NULL,
  head bigint NOT NULL,
  PRIMARY KEY (log, aggregate_id)
);
CREATE TABLE IF NOT EXISTS chronicle_clients (
  log text NOT NULL,
  client_id text NOT NULL,
  client_seq bigint NOT NULL,
  PRIMARY KEY (log, client_id)
);
`;

/** Advisory lock key that serialises schema set-up between processes ("chronicle" in ASCII). */
const SCHEMA_LOCK_KEY = 0x6368726f6e;

export async function migrate(driver: SqlDriver, { advisoryLock }: { advisoryLock: boolean }): Promise<void> {
  await driver.transaction(async (tx) => {
    if (advisoryLock) await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
    for (const statement of SCHEMA_SQL.split(';')) {
      if (statement.trim()) await tx.query(statement);
    }
    const rows = await tx.query<{ version: number }>('SELECT version FROM chronicle_schema');
    const stored = rows[0] ? Number(rows[0].version) : undefined;
    if (stored === undefined) {
      await tx.query('INSERT INTO chronicle_schema (version) VALUES ($1::int)', [SCHEMA_VERSION]);
    } else if (stored > SCHEMA_VERSION) {
      throw new Error(
        `The database holds Chronicle schema version ${stored}; this server knows version ${SCHEMA_VERSION}. Upgrade the server.`,
      );
    }
  });
}

export interface SqlLogStoreOptions {
  kind: string;
  driver: SqlDriver;
  /** When set, every push that moves the head also runs pg_notify(channel, '{"log":..,"head":..}') in its transaction. */
  notifyChannel?: string;
  /** Turns driver errors (connection lost...) into SyncErrors; others pass through. */
  mapError?: (error: unknown) => unknown;
  /** Extra work for close(), after the driver is closed. */
  onClose?: () => Promise<void>;
}

export interface SqlLogStore extends LogStore {
  /** Reports a head move learnt from elsewhere (another process) to this store's watchers. */
  emitHead(log: string, head: number): void;
  /** Tells watchers that head moves may have been missed. */
  emitResync(): void;
}

interface ReadRow {
  k: 'c' | 'd' | 'i' | 'a';
  a: string | null;
  n: string | number | null;
  id: string | null;
  p: string | number | null;
}

const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

export function createSqlLogStore(options: SqlLogStoreOptions): SqlLogStore {
  const { driver, notifyChannel } = options;
  const mapError = options.mapError ?? ((e: unknown) => e);
  const headListeners = new Set<HeadListener>();
  const resyncListeners = new Set<ResyncListener>();
  let closed = false;

  const emitHead = (log: string, head: number): void => {
    for (const listener of headListeners) {
      try {
        listener(log, head);
      } catch {
        // A watcher's failure must not fail the push that already committed.
      }
    }
  };
  const emitResync = (): void => {
    for (const listener of resyncListeners) {
      try {
        listener();
      } catch {
        // ignore
      }
    }
  };

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new SyncError('UNAVAILABLE', 'The log store is closed', {});
    try {
      return await fn();
    } catch (error) {
      throw mapError(error);
    }
  };

  async function pushInTransaction(tx: SqlExecutor, log: string, push: PushInput): Promise<PushResult> {
    const { clientId, from, to, events } = push;

    // 1. One writer per log: lock the log's row (created on the first push).
    let locked = await tx.query<{ head: string | number }>(
      'SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE',
      [log],
    );
    if (locked.length === 0) {
      await tx.query('INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING', [log]);
      locked = await tx.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE', [
        log,
      ]);
    }
    const logHead = num(locked[0]?.head);

    // 2. Read, under the lock (a new statement, hence a fresh snapshot): the client's
    //    high-water mark, what is stored for this range's clientSeqs, stored events
    //    with this push's ids, and the heads of this push's aggregates.
    const ids = events.map((e) => e.id);
    const aggregateIds = [...new Set(events.map((e) => e.aggregateId))];
    const rows = await tx.query<ReadRow>(
      `SELECT 'c' AS k, NULL::text AS a, client_seq AS n, NULL::text AS id, NULL::bigint AS p
         FROM chronicle_clients WHERE log = $1 AND client_id = $2
       UNION ALL
       SELECT 'd', NULL, client_seq, id, position
         FROM chronicle_events WHERE log = $1 AND client_id = $2 AND client_seq BETWEEN $3::bigint AND $4::bigint
       UNION ALL
       SELECT 'i', client_id, client_seq, id, position
         FROM chronicle_events WHERE log = $1 AND id = ANY(ARRAY(SELECT json_array_elements_text($5::json)))
       UNION ALL
       SELECT 'a', aggregate_id, head, NULL, NULL
         FROM chronicle_aggregates WHERE log = $1 AND aggregate_id = ANY(ARRAY(SELECT json_array_elements_text($6::json)))`,
      [log, clientId, from, to, JSON.stringify(ids), JSON.stringify(aggregateIds)],
    );
    let applied = 0;
    const storedBySeq = new Map<number, { id: string; position: number }>();
    const storedById = new Map<string, { clientId: string; clientSeq: number; position: number }>();
    const heads = new Map<string, number>();
    for (const row of rows) {
      if (row.k === 'c') applied = num(row.n);
      else if (row.k === 'd') storedBySeq.set(num(row.n), { id: row.id ?? '', position: num(row.p) });
      else if (row.k === 'i') storedById.set(row.id ?? '', { clientId: row.a ?? '', clientSeq: num(row.n), position: num(row.p) });
      else heads.set(row.a ?? '', num(row.n));
    }

    // 3. Gap: the range must start at or below the next clientSeq expected.
    if (from > applied + 1) {
      throw new SyncError(
        'CLIENT_SEQ_GAP',
        `Client "${clientId}" pushed clientSeq ${from}..${to}, but the server expects ${applied + 1} next`,
        { clientId, expected: applied + 1, from, to, applied },
      );
    }

    // 4. The already-applied part: acknowledged with stored positions, if it is the same events.
    const positions: PushResult['positions'] = [];
    const duplicates = Math.max(0, Math.min(to, applied) - from + 1);
    for (let i = 0; i < duplicates; i++) {
      const event = events[i]!;
      const clientSeq = from + i;
      const stored = storedBySeq.get(clientSeq);
      if (!stored) {
        // Cannot happen while clientSeqs are stored gaplessly; refuse rather than guess.
        throw new Error(`clientSeq ${clientSeq} of client ${clientId} is below its high-water mark but not stored`);
      }
      if (stored.id !== event.id) {
        throw new SyncError(
          'CLIENT_SEQ_MISMATCH',
          `clientSeq ${clientSeq} of client "${clientId}" was already applied with event ${stored.id}, not ${event.id}`,
          { clientId, clientSeq, id: event.id, storedId: stored.id, position: stored.position },
        );
      }
      positions.push({ id: event.id, clientSeq, position: stored.position });
    }

    // 5. The new part: unique ids, and seqs that continue their aggregates.
    const fresh = events.slice(duplicates);
    const seenInPush = new Map<string, number>();
    for (let i = 0; i < fresh.length; i++) {
      const event = fresh[i]!;
      const clientSeq = from + duplicates + i;
      const stored = storedById.get(event.id);
      if (stored) {
        throw new SyncError(
          'DUPLICATE_EVENT_ID',
          `Event id ${event.id} (clientSeq ${clientSeq}) is already stored at position ${stored.position} for client "${stored.clientId}" clientSeq ${stored.clientSeq}`,
          { id: event.id, clientSeq, storedClientId: stored.clientId, storedClientSeq: stored.clientSeq, position: stored.position },
        );
      }
      const earlier = seenInPush.get(event.id);
      if (earlier !== undefined) {
        throw new SyncError('DUPLICATE_EVENT_ID', `Event id ${event.id} appears twice in this push (clientSeq ${earlier} and ${clientSeq})`, {
          id: event.id,
          clientSeq,
          storedClientId: clientId,
          storedClientSeq: earlier,
        });
      }
      seenInPush.set(event.id, clientSeq);
    }
    const storedHeads = new Map(heads);
    for (let i = 0; i < fresh.length; i++) {
      const event = fresh[i]!;
      const current = heads.get(event.aggregateId) ?? 0;
      if (event.seq !== current + 1) {
        const head = storedHeads.get(event.aggregateId) ?? 0;
        throw new SyncError(
          'SEQ_CONFLICT',
          `Event ${event.id} has seq ${event.seq} in aggregate "${event.aggregateId}", but the server's head there is ${head} (expected seq ${current + 1})`,
          { aggregateId: event.aggregateId, seq: event.seq, head, expected: current + 1, id: event.id, clientSeq: from + duplicates + i },
        );
      }
      heads.set(event.aggregateId, event.seq);
    }

    if (fresh.length === 0) {
      return { positions, duplicates, clientSeq: applied, head: logHead, appended: 0 };
    }

    // 6. Write: events at the next positions, aggregate heads, the client's mark, the log head.
    const newRows = fresh.map((event, i) => {
      const position = logHead + 1 + i;
      const clientSeq = from + duplicates + i;
      positions.push({ id: event.id, clientSeq, position });
      return { p: position, id: event.id, a: event.aggregateId, s: event.seq, c: clientSeq, e: { ...event, position } };
    });
    const newAggregateHeads = [...new Set(fresh.map((e) => e.aggregateId))].map((a) => ({ a, h: heads.get(a) }));
    const newHead = logHead + fresh.length;
    const params: unknown[] = [log, clientId, JSON.stringify(newRows), JSON.stringify(newAggregateHeads), to, newHead];
    let final = 'SELECT (SELECT count(*) FROM ev) AS n';
    if (notifyChannel) {
      params.push(notifyChannel, JSON.stringify({ log, head: newHead }));
      final += ', pg_notify($7, $8)';
    }
    const written = await tx.query<{ n: string | number }>(
      `WITH ev AS (
         INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event)
         SELECT $1, r.p, r.id, r.a, r.s, $2, r.c, r.e
           FROM json_to_recordset($3::json) AS r(p bigint, id text, a text, s bigint, c bigint, e json)
         RETURNING 1
       ), ag AS (
         INSERT INTO chronicle_aggregates (log, aggregate_id, head)
         SELECT $1, r.a, r.h FROM json_to_recordset($4::json) AS r(a text, h bigint)
         ON CONFLICT (log, aggregate_id) DO UPDATE SET head = EXCLUDED.head
         RETURNING 1
       ), cl AS (
         INSERT INTO chronicle_clients (log, client_id, client_seq) VALUES ($1, $2, $5::bigint)
         ON CONFLICT (log, client_id) DO UPDATE SET client_seq = EXCLUDED.client_seq
         RETURNING 1
       ), lg AS (
         UPDATE chronicle_logs SET head = $6::bigint WHERE log = $1
         RETURNING 1
       )
       ${final}`,
      params,
    );
    if (num(written[0]?.n) !== fresh.length) throw new Error('push wrote an unexpected number of events');
    return { positions, duplicates, clientSeq: to, head: newHead, appended: fresh.length };
  }

  const store: SqlLogStore = {
    kind: options.kind,

    push(log, push) {
      return guard(async () => {
        const result = await driver.transaction((tx) => pushInTransaction(tx, log, push));
        if (result.appended > 0) emitHead(log, result.head);
        return result;
      });
    },

    pull(log, { after, limit, clientId }: PullInput) {
      return guard(async () => {
        // One statement, hence one snapshot: the head is >= every returned position.
        const rows = await driver.query<{ head: string | number | null; client_seq: string | number | null; event: string | null }>(
          `SELECT l.head, c.client_seq, e.event
             FROM (SELECT 1) AS one
             LEFT JOIN chronicle_logs l ON l.log = $1
             LEFT JOIN chronicle_clients c ON c.log = $1 AND c.client_id = $4::text
             LEFT JOIN LATERAL (
               SELECT position, event::text AS event FROM chronicle_events
                WHERE log = $1 AND position > $2::bigint ORDER BY position LIMIT $3::int
             ) e ON true
            ORDER BY e.position`,
          [log, after, limit, clientId ?? null],
        );
        const first = rows[0];
        const head = num(first?.head);
        const eventsJson: string[] = [];
        for (const row of rows) if (row.event !== null) eventsJson.push(row.event);
        // Positions are gapless, so more events exist exactly when the last one read is below the head.
        const last = after + eventsJson.length;
        const page: PullPage = { eventsJson, head, hasMore: last < head };
        if (clientId !== undefined) page.clientSeq = num(first?.client_seq);
        return page;
      });
    },

    head(log) {
      return guard(async () => {
        const rows = await driver.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1', [log]);
        return num(rows[0]?.head);
      });
    },

    clientSeq(log, clientId) {
      return guard(async () => {
        const rows = await driver.query<{ client_seq: string | number }>(
          'SELECT client_seq FROM chronicle_clients WHERE log = $1 AND client_id = $2',
          [log, clientId],
        );
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
      return guard(async () => {
        await driver.query('SELECT 1 AS ok');
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      headListeners.clear();
      resyncListeners.clear();
      await driver.close();
      await options.onClose?.();
    },

    emitHead,
    emitResync,
  };
  return store;
}
