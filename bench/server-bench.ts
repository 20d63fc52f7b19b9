/**
 * The server benchmarks, run in the Node process of bench/run.mjs (loaded
 * through tsx): `server-push` on PostgreSQL and on the embedded PGlite store,
 * each against plain batched multi-row INSERTs of the same rows, and the
 * server log that the browser's `initial-sync` pulls.
 *
 * PostgreSQL: a database made for the run (`chronicle_bench_…`) on
 * CHRONICLE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432),
 * dropped afterwards. PGlite: temporary data directories, removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { uuidv7 } from '../src/core/ids.ts';
import { PROTOCOL_VERSION, type PushRequest } from '../src/core/protocol.ts';
import {
  createPgliteStore,
  createPostgresStore,
  createSyncServer,
  silentLogger,
  type LogStore,
  type ServerLimits,
  type SyncServer,
} from '../src/server/index.ts';

type PushEvent = PushRequest['events'][number];

export const PG_BASE_URL = process.env.CHRONICLE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

export const SERVER_SIZES = {
  clients: 4,
  eventsPerClient: 25_000,
  /** Events per client pushed (or inserted) before each timed run, elsewhere (another log, another table): JIT, caches. */
  warmupPerClient: 2_500,
  /** Events per push, and rows per INSERT in the baseline. */
  batch: 500,
  /** Aggregates per client (distinct between clients); 100 events each. */
  aggregatesPerClient: 250,
  /** initial-sync: the server log the browser pulls. */
  syncAggregates: 1_000,
  syncEventsPerAggregate: 100,
  syncClients: 20,
} as const;

export interface Metric {
  name: string;
  unit: string;
  chronicle: number;
  baseline: number;
  baselineName: string;
  ratio: number;
  target?: number | undefined;
  notes?: string | undefined;
  [extra: string]: unknown;
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const now = (): number => performance.now();

// ---------------------------------------------------------------- data

/** mulberry32, as in bench/data.ts (which cannot be imported in Node: it pulls in the browser client). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CARRIERS = ['DHL', 'UPS', 'FedEx', 'GLS'];

/** The Order events of bench/model.ts (the shapes bench/data.ts makes), so the browser store can decode them. */
function orderBody(
  random: () => number,
  aggregateIndex: number,
  seq: number,
  length: number,
): { type: string; version: number; data: Record<string, string | number> } {
  if (seq === 1)
    return { type: 'OrderPlaced', version: 1, data: { customerId: `cust-${(aggregateIndex % 500).toString().padStart(4, '0')}` } };
  if (seq === length) return { type: 'OrderShipped', version: 1, data: { carrier: CARRIERS[aggregateIndex % CARRIERS.length]! } };
  const sku = `sku-${Math.floor(random() * 200)
    .toString()
    .padStart(4, '0')}`;
  if (random() < 0.1) return { type: 'ItemRemoved', version: 1, data: { sku } };
  return { type: 'ItemAdded', version: 2, data: { sku, qty: 1 + Math.floor(random() * 5), price: Math.round(random() * 10000) / 100 } };
}

/**
 * One client's events: its own aggregates, `perAggregate` events each,
 * interleaved in a seeded order, numbered with a gapless clientSeq from 1.
 */
export function clientEvents(
  clientId: string,
  aggregateIds: readonly string[],
  perAggregate: number,
  seed: number,
  firstIndex = 0,
): PushEvent[] {
  const random = prng(seed);
  const total = aggregateIds.length * perAggregate;
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i % aggregateIds.length;
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const seqs = new Uint32Array(aggregateIds.length);
  const start = 1_732_000_000_000 + seed * 1_000_000;
  const events: PushEvent[] = new Array(total);
  for (let k = 0; k < total; k++) {
    const a = order[k]!;
    const seq = ++seqs[a]!;
    const body = orderBody(random, firstIndex + a, seq, perAggregate);
    const occurredAt = start + k * 7;
    events[k] = {
      id: uuidv7(occurredAt),
      aggregateId: aggregateIds[a]!,
      aggregateType: 'Order',
      seq,
      type: body.type,
      version: body.version,
      data: body.data,
      meta: { occurredAt, clientId, clientSeq: k + 1 },
    };
  }
  return events;
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function pushOf(clientId: string, events: PushEvent[]): PushRequest {
  return {
    protocolVersion: PROTOCOL_VERSION,
    clientId,
    from: events[0]!.meta.clientSeq,
    to: events[events.length - 1]!.meta.clientSeq,
    events,
  };
}

interface PushClient {
  clientId: string;
  token: string;
  events: PushEvent[];
  /** The push bodies, serialised before the clock starts (the client's work, not the server's). */
  bodies: Buffer[];
}

export function pushClients(
  runId: string,
  perAggregate: number = SERVER_SIZES.eventsPerClient / SERVER_SIZES.aggregatesPerClient,
): PushClient[] {
  const { clients, batch, aggregatesPerClient } = SERVER_SIZES;
  return Array.from({ length: clients }, (_, c) => {
    const clientId = `bench-${runId}-client-${c}`;
    const aggregateIds = Array.from({ length: aggregatesPerClient }, (_, i) => `order-c${c}-${i.toString().padStart(5, '0')}`);
    const events = clientEvents(clientId, aggregateIds, perAggregate, 100 + c, c * aggregatesPerClient);
    const bodies = chunks(events, batch).map((list) => Buffer.from(JSON.stringify(pushOf(clientId, list))));
    return { clientId, token: `bench-token-${c}`, events, bodies };
  });
}

// ---------------------------------------------------------------- PostgreSQL database of the run

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A database for this run, or `{ error }` when PostgreSQL cannot be reached. */
export async function createBenchDatabase(): Promise<BenchDatabase | { error: string }> {
  const name = `chronicle_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres`, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    return { error: `PostgreSQL at ${PG_BASE_URL} unavailable: ${(error as Error).message}` };
  } finally {
    await admin.end().catch(() => undefined);
  }
  return {
    name,
    url: `${PG_BASE_URL}/${name}`,
    async drop() {
      const client = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * For the stand-alone probes: runs `probe` on a database made for it, with a
 * connection to it, then closes the connection and drops the database. Prints
 * why and returns when PostgreSQL cannot be reached.
 */
export async function withProbeDatabase(probe: (database: BenchDatabase, admin: pg.Client) => Promise<void>): Promise<void> {
  const database = await createBenchDatabase();
  if ('error' in database) {
    console.log(`[probe] skipped: ${database.error}`);
    return;
  }
  const admin = new pg.Client({ connectionString: database.url });
  try {
    await admin.connect();
    await probe(database, admin);
  } finally {
    await admin.end().catch(() => undefined);
    await database.drop();
  }
}

// ---------------------------------------------------------------- server-push

type StoreKind = 'postgres' | 'pglite';

interface SideResult {
  ms: number;
  eventsPerSecond: number;
}

/** The baseline's table, as a user would write it: a serial key and the event's columns, no other index. */
export const PLAIN_TABLE = `CREATE TABLE plain_events (
  pos bigserial PRIMARY KEY,
  id text NOT NULL,
  aggregate_id text NOT NULL,
  seq bigint NOT NULL,
  client_id text NOT NULL,
  client_seq bigint NOT NULL,
  event json NOT NULL
)`;

function insertSql(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) {
    const b = r * 6;
    values.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`);
  }
  return `INSERT INTO plain_events (id, aggregate_id, seq, client_id, client_seq, event) VALUES ${values.join(', ')}`;
}

function insertParams(events: readonly PushEvent[]): unknown[] {
  const params: unknown[] = [];
  for (const e of events) params.push(e.id, e.aggregateId, e.seq, e.meta.clientId, e.meta.clientSeq, JSON.stringify(e));
  return params;
}

interface Inserter {
  query(text: string, params: unknown[]): Promise<unknown>;
}

export async function runBaseline(connections: Inserter[], clients: PushClient[]): Promise<SideResult> {
  // Statements and parameters are made before the clock starts, as the push bodies are.
  const work = clients.map((c) =>
    chunks(c.events, SERVER_SIZES.batch).map((list) => ({ sql: insertSql(list.length), params: insertParams(list) })),
  );
  const total = clients.reduce((n, c) => n + c.events.length, 0);
  const t0 = now();
  await Promise.all(
    work.map(async (batches, i) => {
      for (const { sql, params } of batches) await connections[i]!.query(sql, params);
    }),
  );
  const ms = now() - t0;
  return { ms, eventsPerSecond: (total / ms) * 1000 };
}

/**
 * The clients' pushes, made from a worker thread (push-clients.worker.mjs):
 * clients are not the server, so they do not run on its event loop; they do
 * share the machine's cores. Each client sends its next push when the last
 * one was answered (200, or the run fails).
 */
export async function runPushes(url: string, log: string, clients: PushClient[]): Promise<SideResult> {
  const total = clients.reduce((n, c) => n + c.events.length, 0);
  const worker = new Worker(new URL('./push-clients.worker.mjs', import.meta.url), {
    workerData: {
      url,
      log,
      wholeReplies: WHOLE_REPLIES,
      clients: clients.map((c) => ({ clientId: c.clientId, token: c.token, bodies: c.bodies })),
    },
  });
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        worker.off('error', reject);
        const error = (message as { error?: string } | null)?.error;
        if (error) reject(new Error(error));
        else resolve(message);
      };
      worker.once('message', onMessage);
      worker.once('error', reject);
    });
  try {
    await next(); // 'ready': connections open
    worker.postMessage('go');
    const { ms } = (await next()) as { ms: number };
    return { ms, eventsPerSecond: (total / ms) * 1000 };
  } finally {
    await worker.terminate();
  }
}

/**
 * Comparisons a run can make against what the bench measures by default, each
 * said in the metric's notes: `CHRONICLE_BENCH_WRITES_IN_FLIGHT=n` sets the
 * PostgreSQL store's maxWritesInFlight (default 1), and
 * `CHRONICLE_BENCH_WHOLE_REPLIES=1` makes the push clients leave out
 * `Prefer: return=minimal`, so that the server sends every event's position.
 */
export const BENCH_WRITES_IN_FLIGHT = process.env.CHRONICLE_BENCH_WRITES_IN_FLIGHT
  ? Number(process.env.CHRONICLE_BENCH_WRITES_IN_FLIGHT)
  : undefined;
const WHOLE_REPLIES = Boolean(process.env.CHRONICLE_BENCH_WHOLE_REPLIES);

/** The PostgreSQL store server-push and the CPU probe write to. */
export function benchPostgresStore(connectionString: string): Promise<LogStore> {
  return createPostgresStore({ connectionString, ...(BENCH_WRITES_IN_FLIGHT ? { maxWritesInFlight: BENCH_WRITES_IN_FLIGHT } : {}) });
}

/** `CHRONICLE_BENCH_CHECK_EVENTS=1`: the server checks pushed data against the bench's model (createSyncServer's checkEvents). */
const CHECK_EVENTS = process.env.CHRONICLE_BENCH_CHECK_EVENTS ? { aggregates: [(await import('./model.ts')).Order] as const } : undefined;

export function benchServer(store: LogStore, clients: PushClient[]): SyncServer {
  const tokens = Object.fromEntries(clients.map((c, i) => [c.token, { id: `bench-client-${i}`, read: ['*'], write: ['*'] }]));
  return createSyncServer({
    store,
    logger: silentLogger,
    auth: { tokens },
    ...(process.env.CHRONICLE_BENCH_NO_DECODE ? { pushDecoding: false as const } : {}),
    ...(CHECK_EVENTS ? { checkEvents: CHECK_EVENTS } : {}),
  });
}

export interface ServerPushOptions {
  kind: StoreKind;
  /** PostgreSQL only: the run's database. */
  database?: BenchDatabase;
  /** Interleaved rounds (baseline, then Chronicle, each on fresh tables); the best of each side is reported. */
  rounds?: number;
}

const CHRONICLE_TABLES =
  'chronicle_pages, chronicle_event_ids, chronicle_heads, chronicle_ranges, chronicle_events, chronicle_aggregates, chronicle_clients, chronicle_logs, chronicle_schema';

/** Runs `fn` with a client on the run database. */
async function withClient<T>(database: BenchDatabase, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One baseline round on fresh tables: 4 concurrent connections (PGlite: 4 concurrent callers on one instance). */
async function baselineRound(
  kind: StoreKind,
  database: BenchDatabase | undefined,
  clients: PushClient[],
  warm: PushClient[],
  tempDir: () => Promise<string>,
): Promise<SideResult> {
  const total = clients.reduce((n, c) => n + c.events.length, 0);
  let result: SideResult;
  let count: number;
  if (kind === 'postgres') {
    const db = database!;
    await withClient(db, (c) => c.query(`DROP TABLE IF EXISTS plain_events; ${PLAIN_TABLE}`));
    const conns = await Promise.all(
      clients.map(async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        return client;
      }),
    );
    try {
      await runBaseline(conns, warm);
      await conns[0]!.query('TRUNCATE plain_events');
      await conns[0]!.query('CHECKPOINT'); // both sides start right after a checkpoint (the bench's user is a superuser)
      result = await runBaseline(conns, clients);
      count = Number((await conns[0]!.query<{ n: string }>('SELECT count(*) AS n FROM plain_events')).rows[0]!.n);
      await conns[0]!.query('DROP TABLE plain_events');
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
  } else {
    const db = await PGlite.create(join(await tempDir(), 'pgdata'));
    try {
      await db.exec(PLAIN_TABLE);
      const inserter: Inserter = { query: (text, params) => db.query(text, params) };
      await runBaseline(
        clients.map(() => inserter),
        warm,
      );
      await db.exec('TRUNCATE plain_events');
      result = await runBaseline(
        clients.map(() => inserter),
        clients,
      );
      count = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM plain_events')).rows[0]!.n);
    } finally {
      await db.close();
    }
  }
  if (count !== total) throw new Error(`the baseline stored ${count} of ${total} rows`);
  return result;
}

/** One Chronicle round on fresh tables: a new store and server, a short warm-up on another log, then the pushes. */
async function chronicleRound(
  kind: StoreKind,
  database: BenchDatabase | undefined,
  clients: PushClient[],
  warm: PushClient[],
  tempDir: () => Promise<string>,
): Promise<SideResult> {
  const total = clients.reduce((n, c) => n + c.events.length, 0);
  const log = 'bench-push';
  if (kind === 'postgres') await withClient(database!, (c) => c.query(`DROP TABLE IF EXISTS ${CHRONICLE_TABLES}`));
  const store = kind === 'postgres' ? await benchPostgresStore(database!.url) : await createPgliteStore({ dataDir: await tempDir() });
  const server = benchServer(store, clients);
  try {
    const { url } = await server.listen(0, '127.0.0.1');
    await runPushes(url, 'bench-warmup', warm);
    if (kind === 'postgres') await withClient(database!, (c) => c.query('CHECKPOINT'));
    const result = await runPushes(url, log, clients);
    const head = await store.head(log);
    const last = await store.pull(log, { after: total - 1, limit: 1 });
    if (head !== total || last.eventsJson.length !== 1 || last.hasMore) throw new Error(`the server's head is ${head}, expected ${total}`);
    return result;
  } finally {
    await server.close();
  }
}

/**
 * server-push: 4 clients push 25,000 events each, 500 per push, concurrently
 * over HTTP to a chronicle server in this process; vs the same rows INSERTed
 * 500 per statement over 4 concurrent connections into a plain table. Both
 * sides run `rounds` times, interleaved, each on fresh tables; the best round
 * of each side is reported (the machine is shared: the best is the least
 * disturbed), with every round in `rounds`.
 */
export async function serverPush({ kind, database, rounds = 3 }: ServerPushOptions): Promise<Metric> {
  if (kind === 'postgres' && !database) throw new Error('serverPush(postgres) needs the run database');
  const runId = Date.now().toString(36);
  const clients = pushClients(runId);
  const warm = pushClients(`${runId}-warm`, SERVER_SIZES.warmupPerClient / SERVER_SIZES.aggregatesPerClient).map((c, i) => ({
    ...c,
    token: clients[i]!.token,
  }));
  const total = clients.reduce((n, c) => n + c.events.length, 0);
  const avgBytes = clients.reduce((n, c) => n + c.events.reduce((m, e) => m + JSON.stringify(e).length, 0), 0) / total;
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'chronicle-bench-'));
    dirs.push(dir);
    return dir;
  };

  const baselineRuns: SideResult[] = [];
  const chronicleRuns: SideResult[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // Baseline first in each round: whatever background work its writes leave lands on Chronicle's run.
      baselineRuns.push(await baselineRound(kind, database, clients, warm, tempDir));
      chronicleRuns.push(await chronicleRound(kind, database, clients, warm, tempDir));
    }
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    if (kind === 'postgres')
      await withClient(database!, (c) => c.query(`DROP TABLE IF EXISTS plain_events, ${CHRONICLE_TABLES}`)).catch(() => undefined);
  }

  const best = (runs: SideResult[]): SideResult => runs.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
  const chronicle = best(chronicleRuns);
  const baseline = best(baselineRuns);
  const list = (runs: SideResult[]): number[] => runs.map((x) => round(x.eventsPerSecond, 0));
  const name = kind === 'postgres' ? 'server-push' : 'server-push-pglite';
  const where = kind === 'postgres' ? 'PostgreSQL (a database made for the run)' : 'PGlite (data directory on disk)';
  return {
    name,
    unit: 'events/s',
    chronicle: round(chronicle.eventsPerSecond, 0),
    baseline: round(baseline.eventsPerSecond, 0),
    baselineName:
      kind === 'postgres'
        ? `plain multi-row INSERTs (${SERVER_SIZES.batch} rows each) into a plain table (bigserial key), ${SERVER_SIZES.clients} concurrent connections, same database`
        : `the same multi-row INSERTs into a plain table in PGlite (data directory on disk), ${SERVER_SIZES.clients} concurrent callers`,
    ratio: round(chronicle.eventsPerSecond / baseline.eventsPerSecond),
    target: kind === 'postgres' ? 0.8 : 0.5,
    chronicleMs: round(chronicle.ms),
    baselineMs: round(baseline.ms),
    rounds: { chronicle: list(chronicleRuns), baseline: list(baselineRuns) },
    notes:
      `${SERVER_SIZES.clients} clients x ${SERVER_SIZES.eventsPerClient} events (avg ${round(avgBytes, 0)} bytes of JSON each, ` +
      `${SERVER_SIZES.aggregatesPerClient} own aggregates per client), pushes of ${SERVER_SIZES.batch} over HTTP (keep-alive, bearer tokens, ` +
      (WHOLE_REPLIES
        ? 'whole replies with every position: CHRONICLE_BENCH_WHOLE_REPLIES) '
        : `replies without positions as Chronicle's client asks: Prefer: return=minimal) `) +
      `from a worker thread to createSyncServer on ${where} in the bench's Node process. Best of ${rounds} interleaved rounds on fresh tables, each side warmed up first with ${SERVER_SIZES.warmupPerClient} events per client elsewhere (not timed); ` +
      `events/s per round: Chronicle ${list(chronicleRuns).join(' / ')}, baseline ${list(baselineRuns).join(' / ')}` +
      (process.env.CHRONICLE_BENCH_NO_DECODE ? '; push bodies decoded on the event loop (CHRONICLE_BENCH_NO_DECODE)' : '') +
      (CHECK_EVENTS ? "; data checked against the bench's model (checkEvents: CHRONICLE_BENCH_CHECK_EVENTS)" : '') +
      (kind === 'postgres' && BENCH_WRITES_IN_FLIGHT
        ? `; maxWritesInFlight ${BENCH_WRITES_IN_FLIGHT} (CHRONICLE_BENCH_WRITES_IN_FLIGHT)`
        : ''),
  };
}

// ---------------------------------------------------------------- initial-sync: the server log

export interface SyncServerHandle {
  url: string;
  store: string;
  log: string;
  token: string;
  events: number;
  avgEventBytes: number;
  pushMs: number;
  close(): Promise<void>;
}

/**
 * A server on the run's PostgreSQL database (in-memory PGlite without one) holding 100k Order events
 * (1,000 aggregates, 100 events each, written by 20 clients), pushed through
 * the store before anything is timed.
 */
export async function startSyncServer(
  database: BenchDatabase | undefined,
  /** Server limits beyond the defaults (server-pull.ts turns the per-client rate limit off: its pullers share one token). */
  limits: Partial<ServerLimits> = {},
): Promise<SyncServerHandle> {
  const { syncAggregates, syncEventsPerAggregate, syncClients, batch } = SERVER_SIZES;
  const log = 'bench-sync';
  const token = 'bench-browser-token';
  const store = database ? await createPostgresStore({ connectionString: database.url }) : await createPgliteStore();
  const server = createSyncServer({
    store,
    logger: silentLogger,
    limits,
    auth: { tokens: { [token]: { id: 'bench-browser', read: ['*'], write: ['*'] } } },
  });
  try {
    const perClient = syncAggregates / syncClients;
    const clients = Array.from({ length: syncClients }, (_, c) => {
      const clientId = uuidv7(1_700_000_000_000 + c);
      const aggregateIds = Array.from({ length: perClient }, (_, i) => `order-${(c * perClient + i).toString().padStart(6, '0')}`);
      return chunks(clientEvents(clientId, aggregateIds, syncEventsPerAggregate, 1000 + c, c * perClient), batch).map((list) =>
        pushOf(clientId, list),
      );
    });
    let bytes = 0;
    let events = 0;
    const t0 = now();
    // Round-robin over the clients, so aggregates of all of them interleave in the log.
    for (let i = 0; clients.some((pushes) => i < pushes.length); i++) {
      await Promise.all(
        clients.map(async (pushes) => {
          const push = pushes[i];
          if (!push) return;
          for (const e of push.events) bytes += JSON.stringify(e).length;
          events += push.events.length;
          await store.push(log, push);
        }),
      );
    }
    const pushMs = now() - t0;
    const head = await store.head(log);
    if (head !== events) throw new Error(`initial-sync log: head ${head}, expected ${events}`);
    const { url } = await server.listen(0, '127.0.0.1');
    return {
      url,
      log,
      token,
      events,
      store: store.kind,
      avgEventBytes: round(bytes / events, 0),
      pushMs: round(pushMs),
      close: () => server.close(),
    };
  } catch (error) {
    await server.close().catch(() => undefined);
    throw error;
  }
}
