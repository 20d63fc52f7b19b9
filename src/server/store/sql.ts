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
  /** At most this many events in one push transaction when concurrent pushes to a log are coalesced (default 5000). */
  maxBatchEvents?: number;
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

  /**
   * Pushes to one log, in one transaction. Pushes that arrive while a transaction
   * for their log is running are queued and then applied together: one lock, one
   * read, each push checked in arrival order against the state left by the ones
   * before it (a refused push contributes nothing), one write, one commit. Every
   * rule holds per push exactly as if each had its own transaction.
   */
  async function pushBatchInTransaction(tx: SqlExecutor, log: string, pushes: PushInput[]): Promise<(PushResult | SyncError)[]> {
    // 1. One writer per log: lock the log's row (created on the first push).
    let locked = await tx.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE', [log]);
    if (locked.length === 0) {
      await tx.query('INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING', [log]);
      locked = await tx.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE', [log]);
    }
    const initialHead = num(locked[0]?.head);

    // 2. Read, under the lock (a new statement, hence a fresh snapshot): the clients'
    //    high-water marks, what is stored for the ranges' clientSeqs, stored events
    //    with the pushes' ids, and the heads of the pushes' aggregates.
    const clientIds = new Set<string>();
    const ids = new Set<string>();
    const aggregateIds = new Set<string>();
    const ranges: { c: string; f: number; t: number }[] = [];
    for (const push of pushes) {
      clientIds.add(push.clientId);
      ranges.push({ c: push.clientId, f: push.from, t: push.to });
      for (const e of push.events) {
        ids.add(e.id);
        aggregateIds.add(e.aggregateId);
      }
    }
    const rows = await tx.query<ReadRow>(
      `SELECT 'c' AS k, client_id AS a, client_seq AS n, NULL::text AS id, NULL::bigint AS p
         FROM chronicle_clients WHERE log = $1 AND client_id = ANY(ARRAY(SELECT json_array_elements_text($2::json)))
       UNION ALL
       SELECT 'd', e.client_id, e.client_seq, e.id, e.position
         FROM json_to_recordset($3::json) AS r(c text, f bigint, t bigint)
         JOIN chronicle_events e ON e.log = $1 AND e.client_id = r.c AND e.client_seq BETWEEN r.f AND r.t
       UNION ALL
       SELECT 'i', client_id, client_seq, id, position
         FROM chronicle_events WHERE log = $1 AND id = ANY(ARRAY(SELECT json_array_elements_text($4::json)))
       UNION ALL
       SELECT 'a', aggregate_id, head, NULL, NULL
         FROM chronicle_aggregates WHERE log = $1 AND aggregate_id = ANY(ARRAY(SELECT json_array_elements_text($5::json)))`,
      [log, JSON.stringify([...clientIds]), JSON.stringify(ranges), JSON.stringify([...ids]), JSON.stringify([...aggregateIds])],
    );

    // The log's state as the pushes see it, updated as each one is accepted.
    const state = {
      head: initialHead,
      marks: new Map<string, number>(),
      bySeq: new Map<string, { id: string; position: number }>(),
      byId: new Map<string, { clientId: string; clientSeq: number; position: number }>(),
      heads: new Map<string, number>(),
    };
    const seqKey = (clientId: string, clientSeq: number): string => `${clientSeq}\u0000${clientId}`;
    for (const row of rows) {
      if (row.k === 'c') state.marks.set(row.a ?? '', num(row.n));
      else if (row.k === 'd') state.bySeq.set(seqKey(row.a ?? '', num(row.n)), { id: row.id ?? '', position: num(row.p) });
      else if (row.k === 'i') state.byId.set(row.id ?? '', { clientId: row.a ?? '', clientSeq: num(row.n), position: num(row.p) });
      else state.heads.set(row.a ?? '', num(row.n));
    }
    const storedHeads = new Map(state.heads);

    const newRows: { p: number; id: string; a: string; s: number; c: string; q: number; e: unknown }[] = [];
    const results = pushes.map((push) => {
      try {
        return applyOne(push);
      } catch (error) {
        if (error instanceof SyncError) return error;
        throw error;
      }
    });

    /** Checks one push against `state`; if accepted, updates `state` and queues its rows. Throws SyncError to refuse. */
    function applyOne(push: PushInput): PushResult {
      const { clientId, from, to, events } = push;
      const applied = state.marks.get(clientId) ?? 0;

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
        const stored = state.bySeq.get(seqKey(clientId, clientSeq));
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
        const stored = state.byId.get(event.id);
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
      const heads = new Map<string, number>();
      for (let i = 0; i < fresh.length; i++) {
        const event = fresh[i]!;
        const current = heads.get(event.aggregateId) ?? state.heads.get(event.aggregateId) ?? 0;
        if (event.seq !== current + 1) {
          const head = state.heads.get(event.aggregateId) ?? 0;
          throw new SyncError(
            'SEQ_CONFLICT',
            `Event ${event.id} has seq ${event.seq} in aggregate "${event.aggregateId}", but the server's head there is ${head} (expected seq ${current + 1})`,
            { aggregateId: event.aggregateId, seq: event.seq, head, expected: current + 1, id: event.id, clientSeq: from + duplicates + i },
          );
        }
        heads.set(event.aggregateId, event.seq);
      }

      // Accepted: the new events take the next positions.
      for (let i = 0; i < fresh.length; i++) {
        const event = fresh[i]!;
        const position = state.head + 1 + i;
        const clientSeq = from + duplicates + i;
        positions.push({ id: event.id, clientSeq, position });
        newRows.push({ p: position, id: event.id, a: event.aggregateId, s: event.seq, c: clientId, q: clientSeq, e: { ...event, position } });
        state.bySeq.set(seqKey(clientId, clientSeq), { id: event.id, position });
        state.byId.set(event.id, { clientId, clientSeq, position });
      }
      for (const [aggregateId, seq] of heads) state.heads.set(aggregateId, seq);
      state.head += fresh.length;
      const mark = Math.max(applied, to);
      state.marks.set(clientId, mark);
      return { positions, duplicates, clientSeq: mark, head: state.head, appended: fresh.length };
    }

    if (newRows.length === 0) return results;

    // 6. Write: events at the next positions, aggregate heads, the clients' marks, the log head.
    const aggregateHeads = [...state.heads].filter(([a, h]) => storedHeads.get(a) !== h).map(([a, h]) => ({ a, h }));
    const touchedClients = new Set(newRows.map((r) => r.c));
    const marks = [...touchedClients].map((c) => ({ c, q: state.marks.get(c) }));
    const params: unknown[] = [log, JSON.stringify(newRows), JSON.stringify(aggregateHeads), JSON.stringify(marks), state.head];
    let final = 'SELECT (SELECT count(*) FROM ev) AS n';
    if (notifyChannel) {
      params.push(notifyChannel, JSON.stringify({ log, head: state.head }));
      final += ', pg_notify($6, $7)';
    }
    const written = await tx.query<{ n: string | number }>(
      `WITH ev AS (
         INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event)
         SELECT $1, r.p, r.id, r.a, r.s, r.c, r.q, r.e
           FROM json_to_recordset($2::json) AS r(p bigint, id text, a text, s bigint, c text, q bigint, e json)
         RETURNING 1
       ), ag AS (
         INSERT INTO chronicle_aggregates (log, aggregate_id, head)
         SELECT $1, r.a, r.h FROM json_to_recordset($3::json) AS r(a text, h bigint)
         ON CONFLICT (log, aggregate_id) DO UPDATE SET head = EXCLUDED.head
         RETURNING 1
       ), cl AS (
         INSERT INTO chronicle_clients (log, client_id, client_seq)
         SELECT $1, r.c, r.q FROM json_to_recordset($4::json) AS r(c text, q bigint)
         ON CONFLICT (log, client_id) DO UPDATE SET client_seq = EXCLUDED.client_seq
         RETURNING 1
       ), lg AS (
         UPDATE chronicle_logs SET head = $5::bigint WHERE log = $1
         RETURNING 1
       )
       ${final}`,
      params,
    );
    if (num(written[0]?.n) !== newRows.length) throw new Error('push wrote an unexpected number of events');
    return results;
  }

  /** Per log: pushes waiting for the transaction in progress to finish. */
  interface Waiting {
    push: PushInput;
    resolve: (result: PushResult) => void;
    reject: (error: unknown) => void;
  }
  const queues = new Map<string, Waiting[]>();
  const maxBatchEvents = options.maxBatchEvents ?? 5000;

  async function drain(log: string): Promise<void> {
    const queue = queues.get(log)!;
    while (queue.length > 0) {
      const batch: Waiting[] = [];
      let events = 0;
      while (queue.length > 0 && (batch.length === 0 || events + queue[0]!.push.events.length <= maxBatchEvents)) {
        const next = queue.shift()!;
        events += next.push.events.length;
        batch.push(next);
      }
      try {
        const results = await driver.transaction((tx) =>
          pushBatchInTransaction(
            tx,
            log,
            batch.map((w) => w.push),
          ),
        );
        let head = -1;
        results.forEach((result, i) => {
          if (result instanceof SyncError) {
            batch[i]!.reject(result);
          } else {
            if (result.appended > 0) head = Math.max(head, result.head);
            batch[i]!.resolve(result);
          }
        });
        if (head >= 0) emitHead(log, head);
      } catch (error) {
        const mapped = mapError(error);
        for (const w of batch) w.reject(mapped);
      }
    }
    queues.delete(log);
  }

  const store: SqlLogStore = {
    kind: options.kind,

    push(log, push) {
      if (closed) return Promise.reject(new SyncError('UNAVAILABLE', 'The log store is closed', {}));
      return new Promise<PushResult>((resolve, reject) => {
        const queue = queues.get(log);
        if (queue) {
          queue.push({ push, resolve, reject });
          return;
        }
        queues.set(log, [{ push, resolve, reject }]);
        void drain(log);
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
