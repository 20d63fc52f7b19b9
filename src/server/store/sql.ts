import { SyncError } from '../errors.ts';
import type { HeadListener, LogStore, PullInput, PullPage, PushInput, PushResult, ResyncListener } from './types.ts';

/**
 * The log store written once in PostgreSQL's SQL, shared by the PGlite and the
 * PostgreSQL stores: they differ only in how statements reach the database
 * (SqlDriver) and in how head moves reach other processes.
 *
 * Every parameter that is a list travels as one JSON text (json_array_elements,
 * json_to_recordset) so both drivers bind the same scalar parameters.
 *
 * A push, in short (docs/protocol.md has the rules): pushes to one log queue
 * in this process and are applied in batches, in arrival order, each push
 * judged alone. The fast path judges a batch against what this process knows
 * of the log (what it read or wrote last, valid while the log's head is
 * unchanged) and writes it in one statement that locks the log's row and
 * writes only if the head is still the one judged against; a batch can be sent
 * while the previous one's write is still running (it follows that write or
 * fails). Anything uncertain, and logs that another process writes too, take
 * the slow path: one transaction that locks, reads, judges, writes, commits.
 */

export interface SqlExecutor {
  /** `name`: a statement run often, which the driver may prepare once per connection. */
  query<R extends object>(text: string, params?: readonly unknown[], name?: string): Promise<R[]>;
}

export interface SqlDriver extends SqlExecutor {
  /**
   * Like query, but the statements given to it reach the database in call
   * order: each is handed to its connection before the next one is. Without
   * it, query is taken to do so (one connection, as PGlite). The fast path's
   * chained writes need it: a write must take its ticket before the write
   * judged behind it looks for that ticket (see writeSql).
   */
  queryInOrder?<R extends object>(text: string, params: readonly unknown[], name?: string): Promise<R[]>;
  /** Runs fn in one READ COMMITTED transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (schema set-up). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * 2: aggregate heads are read from the events' (log, aggregate_id, seq) index;
 * chronicle_aggregates (version 1) is no longer written. A version-1 server on a
 * version-2 database would judge seqs against stale heads, so it refuses to start.
 */
export const SCHEMA_VERSION = 2;

/**
 * Tables of every log, created if missing. Safe to run concurrently from several processes (see migrate).
 *
 * Text keys use the "C" collation: they are compared for equality and never sorted
 * for people, and bytewise comparison keeps every index insert and probe cheap
 * (a database whose default collation is a libc locale pays strcoll on each).
 * Equality, hence uniqueness, is the same under every deterministic collation, so
 * tables made before this keep working unchanged, only slower.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS chronicle_schema (
  version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS chronicle_logs (
  log text COLLATE "C" PRIMARY KEY,
  head bigint NOT NULL DEFAULT 0,
  write_id text
);
CREATE TABLE IF NOT EXISTS chronicle_events (
  log text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  aggregate_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  client_id text COLLATE "C" NOT NULL,
  client_seq bigint NOT NULL,
  event json NOT NULL,
  PRIMARY KEY (log, position),
  UNIQUE (log, id),
  UNIQUE (log, client_id, client_seq),
  UNIQUE (log, aggregate_id, seq)
);
CREATE TABLE IF NOT EXISTS chronicle_clients (
  log text COLLATE "C" NOT NULL,
  client_id text COLLATE "C" NOT NULL,
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
    } else if (stored < SCHEMA_VERSION) {
      // 1 -> 2: the log's last write id (a nullable column); aggregate heads need no move (they are in the
      // events), and chronicle_aggregates is left as it was.
      await tx.query('ALTER TABLE chronicle_logs ADD COLUMN IF NOT EXISTS write_id text');
      await tx.query('UPDATE chronicle_schema SET version = $1::int', [SCHEMA_VERSION]);
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
   * How many client marks and aggregate heads per log this process keeps to judge
   * pushes without reading them (default 50,000; the log's head tells whether
   * they still hold).
   */
  maxCachedKeys?: number;
  /** Extra work for close(), after the driver is closed. */
  onClose?: () => Promise<void>;
}

export interface SqlLogStore extends LogStore {
  /** Names this store in its notifications, so that it can tell its own from another process's. */
  readonly writerId: string;
  /**
   * Reports a head move learnt from elsewhere to this store's watchers; `by` is
   * the writerId in the notification (another process's write when it is not
   * this store's).
   */
  emitHead(log: string, head: number, by?: string): void;
  /** Tells watchers that head moves may have been missed. */
  emitResync(): void;
}

interface ReadRow {
  k: 'h' | 'c' | 'd' | 'i' | 'a';
  a: string | null;
  n: string | number | null;
  id: string | null;
  p: string | number | null;
}

const num = (v: string | number | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

/** The stored JSON of an event: its pushed JSON with `position` appended (what JSON.stringify({ ...event, position }) gives). */
const withPosition = (json: string, position: number): string => `${json.slice(0, -1)},"position":${position}}`;

/**
 * The JSON array of the events' texts, as one flat string: the brackets go onto
 * the first and last elements before the join, since a string concatenated
 * after it would be a rope that the driver flattens (copies) again to measure it.
 */
function eventsArray(texts: string[]): string {
  if (texts.length === 0) return '[]';
  texts[0] = `[${texts[0]!}`;
  texts[texts.length - 1] = `${texts[texts.length - 1]!}]`;
  return texts.join(',');
}

/**
 * One read, one statement (one snapshot): the log head ('h', no row for a log
 * never pushed to), the clients' high-water marks ('c'), the stored events of the
 * pushed clientSeq ranges ('d'), stored events with the pushed ids ('i') and the
 * aggregate heads ('a': the highest seq stored, from the (log, aggregate_id, seq)
 * index). Each key is one index probe (LATERAL ... LIMIT 1 keeps the planner
 * from scanning a whole log's rows whatever its statistics say).
 */
const READ_SQL = `
SELECT 'h' AS k, NULL::text AS a, head AS n, NULL::text AS id, NULL::bigint AS p
  FROM chronicle_logs WHERE log = $1
UNION ALL
SELECT 'c', x.v, c.client_seq, NULL, NULL
  FROM json_array_elements_text($2::json) AS x(v)
  CROSS JOIN LATERAL (SELECT client_seq FROM chronicle_clients WHERE log = $1 AND client_id = x.v LIMIT 1) c
UNION ALL
SELECT 'd', e.client_id, e.client_seq, e.id, e.position
  FROM json_to_recordset($3::json) AS r(c text, f bigint, t bigint)
  JOIN chronicle_events e ON e.log = $1 AND e.client_id = r.c AND e.client_seq BETWEEN r.f AND r.t
UNION ALL
SELECT 'i', e.client_id, e.client_seq, x.v, e.position
  FROM json_array_elements_text($4::json) AS x(v)
  CROSS JOIN LATERAL (SELECT client_id, client_seq, position FROM chronicle_events WHERE log = $1 AND id = x.v LIMIT 1) e
UNION ALL
SELECT 'a', x.v, g.head, NULL, NULL
  FROM json_array_elements_text($5::json) AS x(v)
  CROSS JOIN LATERAL (
    SELECT seq AS head FROM chronicle_events WHERE log = $1 AND aggregate_id = x.v ORDER BY seq DESC LIMIT 1
  ) g`;

/**
 * The write, one statement, hence one transaction (all or nothing):
 *
 * 1. `tk`: take this write's ticket, a transaction-scoped advisory lock ($15)
 *    that a write sent behind it waits for (`wt`) before it locks the log.
 * 2. `ev`: insert the events at the positions judged ($2 + 1, $2 + 2, ...).
 * 3. `wt`, `lk`: then wait for the write this one was judged behind ($16, when
 *    given) to end, and lock the log's row, seeing it as the last write left it.
 * 4. `ok`: the head under the lock is still the one the pushes were judged
 *    against ($2), and, when $12 is given, the last write was the one with
 *    that write id. If not, the final SELECT divides by zero: the statement
 *    fails (22012) and nothing of it stays.
 * 5. Under the lock: the clients' marks, the log head and the write id ($13),
 *    and (PostgreSQL) the NOTIFY sent at commit. (Aggregate heads need no write:
 *    they are the highest seq in the events' (log, aggregate_id, seq) index.)
 *
 * Positions are visible in commit order: the rows are written before the lock,
 * but no one sees them before the statement commits, which it does holding the
 * lock, after the write it was judged behind committed (and only if that one
 * did: its write id). Inserting first lets a write that waits for its
 * predecessor do its index work meanwhile.
 *
 * No deadlock: until the events are in (1 and 2), lock waits are bounded
 * (`lock_timeout`, transaction-local, restored for 3). Such a wait means a
 * ticket taken by chance by another process, or a row (position, id, seq)
 * inserted by a write judged on a stale state, which will fail; the statement
 * then fails (55P03) and the slow path decides. The unbounded waits, for a
 * ticket or the log's row, are for writes that hold no wait on rows themselves.
 * A row another write has committed makes the insert fail (23505): nothing is
 * written and the slow path judges the pushes again.
 *
 * Lists travel as JSON arrays; the events as one JSON array of their stored
 * texts (json_array_elements keeps each element's text as it is).
 */
function writeSql(notify: boolean): string {
  return `
WITH pv AS (
  SELECT current_setting('lock_timeout') AS v
), tm AS (
  SELECT set_config('lock_timeout', '${INSERT_LOCK_TIMEOUT}', true) AS t FROM pv
), tk AS (
  SELECT pg_advisory_xact_lock(${TICKET_CLASS}, $15::int) FROM tm
), ev AS (
  INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event)
  SELECT $1, $2::bigint + r.n, r.id, r.a, r.s::bigint, r.c, r.q::bigint, r.e
    FROM ROWS FROM (
      json_array_elements_text($3::json), json_array_elements_text($4::json), json_array_elements_text($5::json),
      json_array_elements_text($6::json), json_array_elements_text($7::json), json_array_elements($8::json)
    ) WITH ORDINALITY AS r(id, a, s, c, q, e, n)
   WHERE (SELECT count(*) FROM tk) = 1
  RETURNING 1
), rs AS (
  SELECT set_config('lock_timeout', pv.v, true) AS t FROM pv WHERE (SELECT count(*) FROM ev) = $14::bigint
), wt AS (
  SELECT pg_advisory_xact_lock_shared(${TICKET_CLASS}, $16::int) FROM rs WHERE $16::int IS NOT NULL
), lk AS (
  SELECT head, write_id FROM chronicle_logs
   WHERE log = $1 AND (SELECT count(*) FROM rs) = 1 AND (SELECT count(*) FROM wt) >= 0
     FOR UPDATE
), ok AS (
  SELECT 1 AS one FROM lk WHERE head = $2::bigint AND ($12::text IS NULL OR write_id = $12::text)
), cl AS (
  INSERT INTO chronicle_clients (log, client_id, client_seq)
  SELECT $1, r.c, r.q::bigint FROM ok, ROWS FROM (json_array_elements_text($9::json), json_array_elements_text($10::json)) AS r(c, q)
  ON CONFLICT (log, client_id) DO UPDATE SET client_seq = EXCLUDED.client_seq
  RETURNING 1
), lg AS (
  UPDATE chronicle_logs SET head = $11::bigint, write_id = $13::text WHERE log = $1 AND EXISTS (SELECT 1 FROM ok)
  RETURNING 1
)
SELECT (SELECT count(*) FROM ev) AS n, (SELECT count(*) FROM lg) AS l,
       1 / (SELECT count(*) FROM ok) AS checked${notify ? ', pg_notify($17, $18) AS notified' : ''}`;
}

/** The first key of the transaction-scoped advisory locks that order a process's chained writes ("chr"). */
const TICKET_CLASS = 0x636872;
/** The longest a write waits for a lock before its events are in (see writeSql). */
const INSERT_LOCK_TIMEOUT = '50ms';

/**
 * How a write that wrote nothing failed, by SQLSTATE: its check under the lock
 * (division_by_zero, see writeSql), a bounded lock wait (lock_not_available), a
 * deadlock (deadlock_detected, should bounded waits ever not suffice), or a row
 * someone else committed first (unique_violation).
 */
function writeFailure(error: unknown): 'moved' | 'blocked' | 'taken' | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '22012') return 'moved';
  if (code === '55P03' || code === '40P01') return 'blocked';
  if (code === '23505') return 'taken';
  return undefined;
}

/** The slow path's write ran into a bounded lock wait: its transaction is rolled back and tried again. */
class Blocked extends Error {}

/** A push waiting for (or in) a transaction, with the JSON of its events made before it queued. */
interface Waiting {
  push: PushInput;
  /** JSON.stringify of each event, as pushed (no position). */
  json: readonly string[];
  resolve: (result: PushResult) => void;
  reject: (error: unknown) => void;
}

/** A new event as judged: its place, and what its row holds. */
interface NewRow {
  position: number;
  id: string;
  aggregateId: string;
  seq: number;
  clientId: string;
  clientSeq: number;
  json: string;
}

/** What the pushes of a batch are judged against: the log as of `head`, as far as they touch it. */
interface LogState {
  /** False when the log has no row yet (never pushed to). */
  exists: boolean;
  head: number;
  /** High-water marks of the batch's clients (absent: 0). */
  marks: Map<string, number>;
  /** Heads of the batch's aggregates (absent: 0). */
  heads: Map<string, number>;
  /** Stored events of the pushed clientSeq ranges. */
  bySeq: Map<string, { id: string; position: number }>;
  /** Stored events with the pushed ids; only complete when `idsRead`. */
  byId: Map<string, { clientId: string; clientSeq: number; position: number }>;
  idsRead: boolean;
}

/**
 * What this process knows of a log as of `head`: the marks and aggregate heads
 * it read or wrote. Every write to a log moves its head (a push that stores
 * nothing writes nothing), so while the head under the lock is still `head`,
 * all of this is still true; a write checks exactly that.
 */
interface LogCache {
  head: number;
  /** The write id and ticket of this process's last write to the log, when the cache is what that write leaves. */
  writeId: string | null;
  ticket: number | null;
  marks: Map<string, number>;
  heads: Map<string, number>;
}

const seqKey = (clientId: string, clientSeq: number): string => `${clientSeq}\u0000${clientId}`;

interface Judged {
  results: (PushResult | SyncError)[];
  rows: NewRow[];
  /** The log after the accepted pushes. */
  head: number;
  marks: Map<string, number>;
  heads: Map<string, number>;
  /** Clients whose stored mark the write must set. */
  changedMarks: Map<string, number>;
  /**
   * A push was refused for a reason that ranks after the stored-id check
   * (SEQ_CONFLICT, or DUPLICATE_EVENT_ID within the batch) while stored ids were
   * not read: the refusal could be the wrong one, judge again with ids.
   */
  needsIds: boolean;
}

/**
 * Judges the pushes of a batch one by one, in arrival order, each against the
 * state the ones before it left (a refused push contributes nothing): the
 * protocol's steps 3 to 5. Does not touch `state`.
 */
function judge(state: LogState, batch: readonly Waiting[]): Judged {
  const marks = new Map(state.marks);
  const heads = new Map(state.heads);
  const bySeq = new Map(state.bySeq);
  const byId = new Map(state.byId);
  let head = state.head;
  const rows: NewRow[] = [];
  const changedMarks = new Map<string, number>();
  let needsIds = false;

  const applyOne = ({ push, json }: Waiting): PushResult => {
    const { clientId, from, to, events } = push;
    const applied = marks.get(clientId) ?? 0;

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
      const stored = bySeq.get(seqKey(clientId, clientSeq));
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
    const fresh = events.length - duplicates;
    const seenInPush = new Map<string, number>();
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const clientSeq = from + i;
      const stored = byId.get(event.id);
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
    const pushHeads = new Map<string, number>();
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const current = pushHeads.get(event.aggregateId) ?? heads.get(event.aggregateId) ?? 0;
      if (event.seq !== current + 1) {
        const serverHead = heads.get(event.aggregateId) ?? 0;
        throw new SyncError(
          'SEQ_CONFLICT',
          `Event ${event.id} has seq ${event.seq} in aggregate "${event.aggregateId}", but the server's head there is ${serverHead} (expected seq ${current + 1})`,
          { aggregateId: event.aggregateId, seq: event.seq, head: serverHead, expected: current + 1, id: event.id, clientSeq: from + i },
        );
      }
      pushHeads.set(event.aggregateId, event.seq);
    }

    // Accepted: the new events take the next positions.
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const position = head + 1 + (i - duplicates);
      const clientSeq = from + i;
      positions.push({ id: event.id, clientSeq, position });
      rows.push({ position, id: event.id, aggregateId: event.aggregateId, seq: event.seq, clientId, clientSeq, json: json[i]! });
      bySeq.set(seqKey(clientId, clientSeq), { id: event.id, position });
      byId.set(event.id, { clientId, clientSeq, position });
    }
    for (const [aggregateId, seq] of pushHeads) heads.set(aggregateId, seq);
    head += fresh;
    const mark = Math.max(applied, to);
    marks.set(clientId, mark);
    if (fresh > 0) changedMarks.set(clientId, mark);
    return { positions, duplicates, clientSeq: mark, head, appended: fresh };
  };

  const results = batch.map((waiting) => {
    try {
      return applyOne(waiting);
    } catch (error) {
      if (!(error instanceof SyncError)) throw error;
      if (!state.idsRead && (error.code === 'SEQ_CONFLICT' || error.code === 'DUPLICATE_EVENT_ID')) needsIds = true;
      return error;
    }
  });
  return { results, rows, head, marks, heads, changedMarks, needsIds };
}

export function createSqlLogStore(options: SqlLogStoreOptions): SqlLogStore {
  const { driver, notifyChannel } = options;
  const mapError = options.mapError ?? ((e: unknown) => e);
  const headListeners = new Set<HeadListener>();
  const resyncListeners = new Set<ResyncListener>();
  let closed = false;
  const WRITE_SQL = writeSql(notifyChannel !== undefined);
  /** Where the fast path's writes go: to the database in the order they are sent (see SqlDriver.queryInOrder). */
  const ordered: SqlExecutor = driver.queryInOrder
    ? { query: (text, params, name) => driver.queryInOrder!(text, params ?? [], name) }
    : driver;

  /** Per log, most recently used last. Bounded: MAX_CACHED_LOGS logs, MAX_CACHED_KEYS marks + heads each. */
  const caches = new Map<string, LogCache>();
  const MAX_CACHED_LOGS = 64;
  const MAX_CACHED_KEYS = options.maxCachedKeys ?? 50_000;
  const forget = (log: string): void => {
    caches.delete(log);
  };
  /**
   * Records what a batch read or wrote: marks and heads as of `head`. What was
   * known before stays only if it was known as of `basedOn` (the head the batch
   * was judged against): nothing else can have changed in between.
   */
  const remember = (
    log: string,
    basedOn: number,
    head: number,
    marks: Map<string, number>,
    heads: Map<string, number>,
    write: { id: string; ticket: number } | null,
  ): void => {
    let cache = caches.get(log);
    caches.delete(log);
    if (!cache || cache.head !== basedOn) cache = { head, writeId: null, ticket: null, marks: new Map(), heads: new Map() };
    cache.head = head;
    cache.writeId = write?.id ?? null;
    cache.ticket = write?.ticket ?? null;
    for (const [k, v] of marks) cache.marks.set(k, v);
    for (const [k, v] of heads) cache.heads.set(k, v);
    if (cache.marks.size + cache.heads.size > MAX_CACHED_KEYS) {
      cache.marks.clear();
      cache.heads.clear();
    }
    caches.set(log, cache);
    if (caches.size > MAX_CACHED_LOGS) caches.delete(caches.keys().next().value!);
  };
  /** Write ids: unique per write (this store's random id, then a counter); tickets: 32 bits of one. */
  const writerId = globalThis.crypto.randomUUID();
  const ticketBase = globalThis.crypto.getRandomValues(new Int32Array(1))[0]!;
  let writeCount = 0;
  const nextWrite = (): { id: string; ticket: number } => {
    writeCount++;
    return { id: `${writerId}:${writeCount}`, ticket: (ticketBase + writeCount) | 0 };
  };

  /**
   * Logs that another process writes too (its notifications say so), or whose
   * fast write just failed: until the time stored, their pushes take the slow
   * path, which waits for the lock instead of betting on what this process knows.
   */
  const contended = new Map<string, number>();
  const CONTENDED_MS = 10_000;
  const contend = (log: string, ms = CONTENDED_MS): void => {
    contended.delete(log);
    contended.set(log, Date.now() + ms);
    if (contended.size > 1000) contended.delete(contended.keys().next().value!);
  };
  /**
   * Per log, fast writes that failed since the last one that succeeded. A failed
   * fast write sends the log to the slow path for FAILED_MS, doubled with each
   * further failure up to CONTENDED_MS: a failure of this process's own chain
   * (a write that ran ahead of the one it was judged behind) costs little, and a
   * log that keeps failing (another process writes it and its notifications do
   * not arrive) soon stays on the slow path. Writes that fail together (the
   * ones in flight behind a failed write fail with it) count once.
   */
  const failures = new Map<string, number>();
  const FAILED_MS = 250;
  const failed = (log: string): void => {
    if (isContended(log)) return;
    const count = (failures.get(log) ?? 0) + 1;
    failures.delete(log);
    failures.set(log, count);
    if (failures.size > 1000) failures.delete(failures.keys().next().value!);
    contend(log, Math.min(CONTENDED_MS, FAILED_MS * 2 ** (count - 1)));
  };
  const isContended = (log: string): boolean => {
    const until = contended.get(log);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    contended.delete(log);
    return false;
  };

  const emitHead = (log: string, head: number, by?: string): void => {
    if (by !== undefined && by !== writerId) {
      // Another process writes this log: what this one knows of it is stale, and it is shared for a while.
      forget(log);
      contend(log);
    } else {
      // (The cache runs ahead of this process's writes in flight, so its own notifications never get past it.)
      const cache = caches.get(log);
      if (cache && head > cache.head) forget(log);
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
    caches.clear();
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
   * Reads what a batch needs that `known` (marks and heads as of a head, or
   * nothing) lacks, in one statement. When the head read is not `known.head`,
   * what was known is stale: everything is read again.
   */
  async function readState(
    db: SqlExecutor,
    log: string,
    batch: readonly Waiting[],
    known: LogCache | undefined,
    readIds: boolean,
  ): Promise<LogState> {
    const clientIds = new Set<string>();
    const aggregateIds = new Set<string>();
    const ids: string[] = [];
    const ranges: { c: string; f: number; t: number }[] = [];
    for (const { push } of batch) {
      clientIds.add(push.clientId);
      ranges.push({ c: push.clientId, f: push.from, t: push.to });
      for (const e of push.events) {
        aggregateIds.add(e.aggregateId);
        if (readIds) ids.push(e.id);
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      const useKnown = pass === 0 ? known : undefined;
      const wantClients = useKnown ? [...clientIds].filter((c) => !useKnown.marks.has(c)) : [...clientIds];
      const wantAggregates = useKnown ? [...aggregateIds].filter((a) => !useKnown.heads.has(a)) : [...aggregateIds];
      const rows = await db.query<ReadRow>(READ_SQL, [
        log,
        JSON.stringify(wantClients),
        JSON.stringify(ranges),
        JSON.stringify(ids),
        JSON.stringify(wantAggregates),
      ]);
      const state: LogState = {
        exists: false,
        head: 0,
        marks: new Map(),
        heads: new Map(),
        bySeq: new Map(),
        byId: new Map(),
        idsRead: readIds,
      };
      for (const row of rows) {
        if (row.k === 'h') {
          state.exists = true;
          state.head = num(row.n);
        } else if (row.k === 'c') state.marks.set(row.a ?? '', num(row.n));
        else if (row.k === 'd') state.bySeq.set(seqKey(row.a ?? '', num(row.n)), { id: row.id ?? '', position: num(row.p) });
        else if (row.k === 'i') state.byId.set(row.id ?? '', { clientId: row.a ?? '', clientSeq: num(row.n), position: num(row.p) });
        else state.heads.set(row.a ?? '', num(row.n));
      }
      if (useKnown && useKnown.head !== state.head) {
        forget(log); // stale: read everything
        continue;
      }
      if (useKnown) {
        for (const c of clientIds) if (!state.marks.has(c) && useKnown.marks.has(c)) state.marks.set(c, useKnown.marks.get(c)!);
        for (const a of aggregateIds) if (!state.heads.has(a) && useKnown.heads.has(a)) state.heads.set(a, useKnown.heads.get(a)!);
      }
      // What was read as absent is 0; remember it as such so the next batch need not ask again.
      for (const c of clientIds) if (!state.marks.has(c)) state.marks.set(c, 0);
      for (const a of aggregateIds) if (!state.heads.has(a)) state.heads.set(a, 0);
      return state;
    }
    throw new Error('unreachable');
  }

  /** The batch's state from what this process knows, when that covers it; undefined when a read is needed. */
  function stateFromCache(log: string, batch: readonly Waiting[]): LogState | undefined {
    const cache = caches.get(log);
    if (!cache) return undefined;
    const marks = new Map<string, number>();
    const heads = new Map<string, number>();
    for (const { push } of batch) {
      const mark = cache.marks.get(push.clientId);
      // A range at or below the mark needs the stored events: read.
      if (mark === undefined || push.from <= mark) return undefined;
      marks.set(push.clientId, mark);
      for (const e of push.events) {
        const head = cache.heads.get(e.aggregateId);
        if (head === undefined) return undefined;
        heads.set(e.aggregateId, head);
      }
    }
    return { exists: true, head: cache.head, marks, heads, bySeq: new Map(), byId: new Map(), idsRead: false };
  }

  /**
   * Runs the write statement: 'written', or how it failed having written
   * nothing (see writeFailure); throws on any other failure.
   */
  async function write(
    db: SqlExecutor,
    log: string,
    expectedHead: number,
    expectedWriteId: string | null,
    writeId: string,
    judged: Judged,
    ticket: number,
    afterTicket: number | null,
  ): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
    const { rows } = judged;
    const ids: string[] = new Array(rows.length);
    const aggregates: string[] = new Array(rows.length);
    const seqs: number[] = new Array(rows.length);
    const clients: string[] = new Array(rows.length);
    const clientSeqs: number[] = new Array(rows.length);
    const events: string[] = new Array(rows.length);
    rows.forEach((r, i) => {
      ids[i] = r.id;
      aggregates[i] = r.aggregateId;
      seqs[i] = r.seq;
      clients[i] = r.clientId;
      clientSeqs[i] = r.clientSeq;
      events[i] = withPosition(r.json, r.position);
    });
    const params: unknown[] = [
      log,
      expectedHead,
      JSON.stringify(ids),
      JSON.stringify(aggregates),
      JSON.stringify(seqs),
      JSON.stringify(clients),
      JSON.stringify(clientSeqs),
      eventsArray(events),
      JSON.stringify([...judged.changedMarks.keys()]),
      JSON.stringify([...judged.changedMarks.values()]),
      judged.head,
      expectedWriteId,
      writeId,
      rows.length,
      ticket,
      afterTicket,
    ];
    if (notifyChannel !== undefined) params.push(notifyChannel, JSON.stringify({ log, head: judged.head, by: writerId }));
    let result: { n: string | number; l: string | number }[];
    try {
      result = await db.query(WRITE_SQL, params, notifyChannel === undefined ? 'chronicle_write' : 'chronicle_write_notify');
    } catch (error) {
      const failure = writeFailure(error);
      if (failure) return failure;
      throw error;
    }
    const row = result[0];
    if (num(row?.n) !== rows.length || num(row?.l) !== 1) throw new Error('push wrote an unexpected number of events');
    return 'written';
  }

  /** Settles the batch's promises with the judged results; reports the head move. */
  function settle(log: string, batch: readonly Waiting[], results: readonly (PushResult | SyncError)[]): void {
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
  }

  const fail = (log: string, batch: readonly Waiting[], error: unknown): void => {
    forget(log);
    const mapped = mapError(error);
    for (const w of batch) w.reject(mapped);
  };

  /** A write sent and not answered yet, with the results it settles when it succeeds. */
  interface Flight {
    batch: Waiting[];
    judged: Judged;
    /** true: written. false: nothing written, the slow path decides. An error: the outcome is unknown. */
    outcome: Promise<boolean | { error: unknown }>;
  }

  /**
   * The fast path: judge the batch against what this process knows of the log
   * (or against one snapshot read), then send a write that takes the log's lock
   * and writes only if the head is still the one judged against. Under the lock
   * nothing has changed since, so every rule holds exactly as if the read had
   * been made under the lock.
   *
   * `behind`: writes of this process to the log are in flight. The batch is then
   * judged against the log as they will leave it, and its write also requires
   * the last of them to have committed (its write id): a write can only commit
   * after the ones it was judged behind, and only if they did.
   *
   * Returns the flight; 'done' when the batch was settled without a write (a
   * snapshot read showed nothing to store); 'wait' when it must wait until
   * nothing is in flight; 'locked' when the slow path must decide (an id may be
   * stored already, or refusals must be confirmed under the lock).
   */
  async function start(log: string, batch: Waiting[], behind: boolean): Promise<Flight | 'done' | 'wait' | 'locked'> {
    let state = stateFromCache(log, batch);
    let verified = false; // read in this attempt: the state is a snapshot of the log
    if (!state) {
      if (behind) return 'wait';
      state = await readState(driver, log, batch, caches.get(log), false);
      verified = true;
    }
    const judged = judge(state, batch);
    if (judged.needsIds || (judged.rows.length === 0 && !verified)) return behind ? 'wait' : 'locked';
    if (judged.rows.length === 0) {
      if (state.exists) remember(log, state.head, state.head, state.marks, state.heads, null);
      settle(log, batch, judged.results);
      return 'done';
    }
    if (!state.exists) await driver.query('INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING', [log]);
    // Behind writes in flight: this one must follow the last of them (read before remember() below moves on).
    const cache = behind ? caches.get(log) : undefined;
    const afterId = cache?.writeId ?? null;
    const afterTicket = cache?.ticket ?? null;
    if (behind && (afterId === null || afterTicket === null)) return 'wait';
    const current = nextWrite();
    // The log as this write leaves it, if it succeeds: what the next batch is judged against.
    remember(log, state.head, judged.head, judged.marks, judged.heads, current);
    const outcome = write(ordered, log, state.head, afterId, current.id, judged, current.ticket, afterTicket).then(
      (result): boolean => {
        if (result === 'written') {
          failures.delete(log);
          return true;
        }
        // Not written (the head moved, a bounded wait, an id stored already...): the slow path decides,
        // for this batch and, for a while, the log's next ones.
        forget(log);
        failed(log);
        return false;
      },
      (error: unknown) => {
        forget(log);
        return { error };
      },
    );
    return { batch, judged, outcome };
  }

  /**
   * The slow path, as docs/protocol.md describes a push: one transaction that
   * locks the log's row, then reads everything the batch needs (ids included),
   * judges, writes and commits.
   */
  async function pushLocked(log: string, batch: readonly Waiting[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pushLockedOnce(log, batch);
      } catch (error) {
        // A bounded wait ran out (a write judged on a stale state held a row this one needs; it is
        // about to fail): start over, after it had time to.
        if (!(error instanceof Blocked) || attempt >= 20) throw error instanceof Blocked ? new Error('push kept waiting for locks') : error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** attempt) * Math.random()));
      }
    }
  }

  async function pushLockedOnce(log: string, batch: readonly Waiting[]): Promise<void> {
    const current = nextWrite();
    const { judged, state } = await driver.transaction(async (tx) => {
      // 1. One writer per log: lock the log's row (created on the first push).
      let locked = await tx.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE', [log]);
      if (locked.length === 0) {
        await tx.query('INSERT INTO chronicle_logs (log, head) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING', [log]);
        locked = await tx.query<{ head: string | number }>('SELECT head FROM chronicle_logs WHERE log = $1 FOR UPDATE', [log]);
      }
      // 2. Read under the lock (a new statement, hence a fresh snapshot).
      const state = await readState(tx, log, batch, undefined, true);
      if (state.head !== num(locked[0]?.head)) throw new Error('the log head moved while its row was locked');
      const judged = judge(state, batch);
      if (judged.rows.length > 0) {
        const result = await write(tx, log, state.head, null, current.id, judged, current.ticket, null);
        if (result === 'blocked') throw new Blocked();
        if (result !== 'written') throw new Error(`the write under the log's lock failed (${result})`);
      }
      return { judged, state };
    });
    remember(log, state.head, judged.head, judged.marks, judged.heads, judged.rows.length > 0 ? current : null);
    settle(log, batch, judged.results);
  }

  /** Per log: pushes waiting for a batch. */
  const queues = new Map<string, Waiting[]>();
  /** Per log: wakes a drain that waits for pushes while its writes are in flight. */
  const arrivals = new Map<string, () => void>();
  const maxBatchEvents = options.maxBatchEvents ?? 5000;
  /**
   * Writes to one log in flight at once: each after the first was judged behind
   * the one before it and waits for it (see writeSql). 3 kept two cores busy
   * best on the bench; more only adds writes that wait.
   */
  const MAX_FLIGHTS = 3;

  const takeBatch = (queue: Waiting[]): Waiting[] => {
    const batch: Waiting[] = [];
    let events = 0;
    while (queue.length > 0 && (batch.length === 0 || events + queue[0]!.push.events.length <= maxBatchEvents)) {
      const next = queue.shift()!;
      events += next.push.events.length;
      batch.push(next);
    }
    return batch;
  };

  /**
   * Applies the queued pushes of a log, batch by batch in arrival order. A batch
   * is judged and its write sent while the previous batch's write is still
   * running (up to MAX_FLIGHTS), so the database has the next write at hand
   * when the previous one commits; results are settled in order as writes are
   * answered. A write that did not happen sends its batch, and every batch
   * after it, through the slow path once nothing is in flight.
   */
  async function drain(log: string): Promise<void> {
    const queue = queues.get(log)!;
    const flights: Flight[] = [];
    const again: Waiting[][] = [];

    const decideLocked = async (batch: Waiting[]): Promise<void> => {
      try {
        await pushLocked(log, batch);
      } catch (error) {
        fail(log, batch, error);
      }
    };
    const land = async (): Promise<void> => {
      const flight = flights.shift()!;
      const outcome = await flight.outcome;
      if (outcome === true) settle(log, flight.batch, flight.judged.results);
      else if (outcome === false) again.push(flight.batch);
      else fail(log, flight.batch, outcome.error);
      if (flights.length === 0) for (const batch of again.splice(0)) await decideLocked(batch);
    };

    while (queue.length > 0 || flights.length > 0) {
      if (queue.length === 0 && flights.length > 0 && again.length === 0 && flights.length < MAX_FLIGHTS) {
        // Until the oldest write is answered or a push arrives, whichever comes first.
        const arrived = new Promise<'arrived'>((resolve) => arrivals.set(log, () => resolve('arrived')));
        const first = await Promise.race([flights[0]!.outcome, arrived]);
        arrivals.delete(log);
        if (first === 'arrived') continue;
      }
      const shared = isContended(log);
      if (queue.length === 0 || flights.length >= MAX_FLIGHTS || again.length > 0 || (shared && flights.length > 0)) {
        await land();
        continue;
      }
      const batch = takeBatch(queue);
      if (shared) {
        await decideLocked(batch);
        continue;
      }
      let started: Flight | 'done' | 'wait' | 'locked';
      try {
        started = await start(log, batch, flights.length > 0);
      } catch (error) {
        fail(log, batch, error);
        continue;
      }
      if (started === 'wait') {
        queue.unshift(...batch);
        await land();
      } else if (started === 'locked') {
        await decideLocked(batch);
      } else if (started !== 'done') {
        flights.push(started);
      }
    }
    queues.delete(log);
  }

  const store: SqlLogStore = {
    kind: options.kind,

    push(log, push, prepared) {
      if (closed) return Promise.reject(new SyncError('UNAVAILABLE', 'The log store is closed', {}));
      // The events' JSON is made here, before the push queues: not while the log is locked.
      const json = prepared?.eventsJson ?? push.events.map((e) => JSON.stringify(e));
      return new Promise<PushResult>((resolve, reject) => {
        const waiting: Waiting = { push, json, resolve, reject };
        const queue = queues.get(log);
        if (queue) {
          queue.push(waiting);
          arrivals.get(log)?.();
          return;
        }
        queues.set(log, [waiting]);
        void drain(log);
      });
    },

    pull(log, { after, limit, clientId }: PullInput) {
      return guard(async () => {
        // One statement, hence one snapshot: the head is >= every returned position. Positions are
        // gapless, so the page is exactly after + 1 .. after + limit (bounded by the head): the range
        // bounds the scan, whatever the planner makes of the table's statistics (with `> after ORDER BY
        // LIMIT` alone it may read every later event of the log to sort them, each page).
        const rows = await driver.query<{ head: string | number | null; client_seq: string | number | null; event: string | null }>(
          `SELECT l.head, c.client_seq, e.event
             FROM (SELECT 1) AS one
             LEFT JOIN chronicle_logs l ON l.log = $1
             LEFT JOIN chronicle_clients c ON c.log = $1 AND c.client_id = $4::text
             LEFT JOIN LATERAL (
               SELECT position, event::text AS event FROM chronicle_events
                WHERE log = $1 AND position > $2::bigint AND position <= $2::bigint + $3::int
                ORDER BY position LIMIT $3::int
             ) e ON true
            ORDER BY e.position`,
          [log, after, limit, clientId ?? null],
          'chronicle_pull',
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
      caches.clear();
      await driver.close();
      await options.onClose?.();
    },

    writerId,
    emitHead,
    emitResync,
  };
  return store;
}
