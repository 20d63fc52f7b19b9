/**
 * node --conditions=chronicle-source --import tsx bench/server-index-probe.ts
 *
 * What the reference store's table layout alone costs a push, with no server
 * in between: the rows of `server-push` (4 clients x 25,000 events, 500 per
 * statement, 4 concurrent connections) INSERTed straight into
 *
 * - `plain`: server-push's baseline table (a bigserial key, no other index);
 * - `schema 4 (chronicle_events)`: the table schema 4 kept every event in
 *   (primary key (log, position) and the unique (log, id),
 *   (log, client_id, client_seq) and (log, aggregate_id, seq) indexes);
 * - `schema 4, key + id only`: the same table without the last two indexes;
 * - `pages, one row per push`: a push's events as one JSON array in one row
 *   keyed by its first position, as the client's IndexedDB stores pages (no
 *   per-event index entry at all);
 * - `pages + ids + heads + ranges`: what schema 5 writes (schema.ts,
 *   pages.ts): pages, a (log, id) row per event, an upserted head row per
 *   aggregate, a client range row per push;
 * - `pages + ids + heads + ranges, lz4`: the same with lz4 compression on
 *   the page columns, as the store sets it where PostgreSQL has lz4
 *   (store/compression.ts; pglz, the default, costs about as much as the rest);
 * - `pages + id/seq keys + ranges`: the alternative to head rows, each
 *   event's aggregate and seq beside its id under a second unique index.
 *
 * Positions are handed out interleaved across the clients, as concurrent
 * pushes get them. Each layout runs on a fresh table after a CHECKPOINT, in
 * `ROUNDS` interleaved rounds; the best round of each is reported, with its
 * ratio to `plain`. This is the database's share of a push alone: the server
 * (HTTP, decoding, judging) runs on the same cores in server-push.
 *
 * Measured 2026-12-04 (2 cores, six runs): schema 4 0.50-0.73 of plain, key +
 * id only 0.73-0.93, pages alone 2.2-2.95; schema 5 0.86-1.10, with id/seq
 * keys instead of head rows 0.79-0.88, below schema 5 in every run with both
 * (hence head rows). With lz4 (added later the same day, one run): schema 5
 * 0.95 of plain with pglz, 1.42 with lz4.
 */
import pg from 'pg';
import type { NewRow } from '../src/server/push-judge.ts';
import { buildPages, lastSeqs, pageParams, pageRowsSql } from '../src/server/store/pages.ts';
import { clientEvents, createBenchDatabase, PLAIN_TABLE, SERVER_SIZES } from './server-bench.ts';

const ROUNDS = 3;
const { clients: CLIENTS, eventsPerClient: PER_CLIENT, batch: BATCH, aggregatesPerClient } = SERVER_SIZES;
const LOG = 'bench-push';

/** A row as the server writes it (its judge's NewRow). */
type Row = NewRow;

function rowsOf(c: number): Row[] {
  const clientId = `probe-client-${c}`;
  const aggregateIds = Array.from({ length: aggregatesPerClient }, (_, i) => `order-c${c}-${i.toString().padStart(5, '0')}`);
  return clientEvents(clientId, aggregateIds, PER_CLIENT / aggregatesPerClient, 100 + c, c * aggregatesPerClient).map((e, k) => ({
    position: k * CLIENTS + c + 1,
    id: e.id,
    aggregateId: e.aggregateId,
    seq: e.seq,
    clientId,
    clientSeq: e.meta.clientSeq,
    json: JSON.stringify(e),
  }));
}

interface Layout {
  name: string;
  create: string;
  insert: (rows: number) => string;
  params: (rows: readonly Row[]) => unknown[];
}

function values(rows: number, columns: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push(`(${Array.from({ length: columns }, (_, k) => `$${r * columns + k + 1}`).join(', ')})`);
  return out.join(', ');
}

const chronicleInsert = (rows: number) =>
  `INSERT INTO chronicle_events (log, position, id, aggregate_id, seq, client_id, client_seq, event) VALUES ${values(rows, 8)}`;
const chronicleParams = (rows: readonly Row[]) =>
  rows.flatMap((r) => [LOG, r.position, r.id, r.aggregateId, r.seq, r.clientId, r.clientSeq, r.json]);
const DROP = 'DROP TABLE IF EXISTS plain_events, chronicle_events, probe_pages, probe_ids, probe_heads, probe_ranges';

/** chronicle_events as schema 4 created it (schema 5 moved events into pages). */
const V4_EVENTS = `CREATE TABLE chronicle_events (
  log text COLLATE "C" NOT NULL, position bigint NOT NULL, id text COLLATE "C" NOT NULL, aggregate_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL, client_id text COLLATE "C" NOT NULL, client_seq bigint NOT NULL, event json NOT NULL,
  PRIMARY KEY (log, position), UNIQUE (log, id), UNIQUE (log, client_id, client_seq), UNIQUE (log, aggregate_id, seq))`;

/**
 * What both schema-5 layouts below share: the pages ($1 log, $2-$5 pageParams) and a range row per statement
 * ($6 first position, $7 ids, $10-$12 client, from, to). Only the per-event rows beside them differ.
 */
const PAGES_TABLE = `CREATE TABLE probe_pages (
      log text COLLATE "C" NOT NULL, first_position bigint NOT NULL, last_position bigint NOT NULL, events text NOT NULL, ends int4[] NOT NULL,
      PRIMARY KEY (log, first_position));`;
const RANGES_TABLE = `CREATE TABLE probe_ranges (log text COLLATE "C" NOT NULL, client_id text COLLATE "C" NOT NULL, from_seq bigint NOT NULL,
        to_seq bigint NOT NULL, first_position bigint NOT NULL, ids text NOT NULL, PRIMARY KEY (log, client_id, from_seq));
      CREATE INDEX ON probe_ranges (log, first_position)`;
const PAGES_CTE = `p AS (INSERT INTO probe_pages (log, first_position, last_position, events, ends)
        SELECT $1, r.f::bigint, r.l::bigint, r.t, r.e::int4[] FROM ${pageRowsSql(2)} RETURNING 1)`;
const RANGES_CTE = `g AS (INSERT INTO probe_ranges (log, client_id, from_seq, to_seq, first_position, ids) VALUES ($1, $10, $11, $12, $6, $7) RETURNING 1)`;
const pagesOf = (rows: readonly Row[]) =>
  pageParams(
    buildPages(
      rows[0]!.position,
      rows.map((r) => r.json),
    ),
  );

/**
 * Pages, plus what the push rules need beside them: a unique (log, id) row per event, one head row per
 * aggregate (upserted), one row per push with its clientSeq range and ids. As schema 5 stores a write.
 */
const SCHEMA_5: Layout = {
  name: 'pages + ids + heads + ranges',
  create: `${PAGES_TABLE}
      CREATE TABLE probe_ids (log text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, position bigint NOT NULL, PRIMARY KEY (log, id));
      CREATE TABLE probe_heads (log text COLLATE "C" NOT NULL, aggregate_id text COLLATE "C" NOT NULL, head bigint NOT NULL,
        PRIMARY KEY (log, aggregate_id)) WITH (fillfactor = 50);
      ${RANGES_TABLE}`,
  insert: () => `WITH ${PAGES_CTE},
      i AS (INSERT INTO probe_ids (log, id, position) SELECT $1, x.id, $6::bigint + x.n - 1 FROM json_array_elements_text($7::json) WITH ORDINALITY AS x(id, n) RETURNING 1),
      h AS (INSERT INTO probe_heads (log, aggregate_id, head) SELECT $1, r.a, r.s::bigint
              FROM ROWS FROM (json_array_elements_text($8::json), json_array_elements_text($9::json)) AS r(a, s)
            ON CONFLICT (log, aggregate_id) DO UPDATE SET head = EXCLUDED.head RETURNING 1),
      ${RANGES_CTE}
      SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM i), (SELECT count(*) FROM h), (SELECT count(*) FROM g)`,
  params: (rows) => {
    const heads = lastSeqs(rows);
    return [
      LOG,
      ...pagesOf(rows),
      rows[0]!.position,
      JSON.stringify(rows.map((r) => r.id)),
      JSON.stringify([...heads.keys()]),
      JSON.stringify([...heads.values()]),
      rows[0]!.clientId,
      rows[0]!.clientSeq,
      rows[rows.length - 1]!.clientSeq,
    ];
  },
};

const LAYOUTS: Layout[] = [
  {
    name: 'plain',
    create: PLAIN_TABLE,
    insert: (rows) => `INSERT INTO plain_events (id, aggregate_id, seq, client_id, client_seq, event) VALUES ${values(rows, 6)}`,
    params: (rows) => rows.flatMap((r) => [r.id, r.aggregateId, r.seq, r.clientId, r.clientSeq, r.json]),
  },
  { name: 'schema 4 (chronicle_events)', create: V4_EVENTS, insert: chronicleInsert, params: chronicleParams },
  {
    name: 'schema 4, key + id only',
    create: `${V4_EVENTS};
      ALTER TABLE chronicle_events DROP CONSTRAINT chronicle_events_log_client_id_client_seq_key;
      ALTER TABLE chronicle_events DROP CONSTRAINT chronicle_events_log_aggregate_id_seq_key;`,
    insert: chronicleInsert,
    params: chronicleParams,
  },
  {
    // What the client's IndexedDB does: a push's events as one row (a page), keyed by its first position.
    name: 'pages, one row per push',
    create: `CREATE TABLE probe_pages (
      log text COLLATE "C" NOT NULL, first_position bigint NOT NULL, count integer NOT NULL, events json NOT NULL,
      PRIMARY KEY (log, first_position))`,
    insert: () => 'INSERT INTO probe_pages (log, first_position, count, events) VALUES ($1, $2, $3, $4)',
    params: (rows) => [LOG, rows[0]!.position, rows.length, `[${rows.map((r) => r.json).join(',')}]`],
  },
  SCHEMA_5,
  {
    // The same with lz4 on the page columns, as the store sets where PostgreSQL has it (store/compression.ts).
    ...SCHEMA_5,
    name: 'pages + ids + heads + ranges, lz4',
    create: `${SCHEMA_5.create};
      ALTER TABLE probe_pages ALTER COLUMN events SET COMPRESSION lz4;
      ALTER TABLE probe_pages ALTER COLUMN ends SET COMPRESSION lz4;
      ALTER TABLE probe_ranges ALTER COLUMN ids SET COMPRESSION lz4`,
  },
  {
    // The same, with each event's aggregate and seq beside its id (a second unique index per event) instead of head rows.
    name: 'pages + id/seq keys + ranges',
    create: `${PAGES_TABLE}
      CREATE TABLE probe_ids (log text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, position bigint NOT NULL,
        aggregate_id text COLLATE "C" NOT NULL, seq bigint NOT NULL, PRIMARY KEY (log, id), UNIQUE (log, aggregate_id, seq));
      ${RANGES_TABLE}`,
    insert: () => `WITH ${PAGES_CTE},
      i AS (INSERT INTO probe_ids (log, id, position, aggregate_id, seq) SELECT $1, x.id, $6::bigint + x.n - 1, x.a, x.s::bigint
              FROM ROWS FROM (json_array_elements_text($7::json), json_array_elements_text($8::json), json_array_elements_text($9::json))
              WITH ORDINALITY AS x(id, a, s, n) RETURNING 1),
      ${RANGES_CTE}
      SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM i), (SELECT count(*) FROM g)`,
    params: (rows) => [
      LOG,
      ...pagesOf(rows),
      rows[0]!.position,
      JSON.stringify(rows.map((r) => r.id)),
      JSON.stringify(rows.map((r) => r.aggregateId)),
      JSON.stringify(rows.map((r) => r.seq)),
      rows[0]!.clientId,
      rows[0]!.clientSeq,
      rows[rows.length - 1]!.clientSeq,
    ],
  },
];

async function main(): Promise<void> {
  const database = await createBenchDatabase();
  if ('error' in database) {
    console.log(`[probe] skipped: ${database.error}`);
    return;
  }
  const connections = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      return client;
    }),
  );
  try {
    const rows = Array.from({ length: CLIENTS }, (_, c) => rowsOf(c));
    const best = new Map<string, number>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const layout of LAYOUTS) {
        // Statements and parameters are made before the clock starts.
        const work = rows.map((list) => {
          const batches: { sql: string; params: unknown[] }[] = [];
          for (let i = 0; i < list.length; i += BATCH) {
            const part = list.slice(i, i + BATCH);
            batches.push({ sql: layout.insert(part.length), params: layout.params(part) });
          }
          return batches;
        });
        await connections[0]!.query(`${DROP}; ${layout.create}`);
        await connections[0]!.query('CHECKPOINT');
        const t0 = performance.now();
        await Promise.all(
          work.map(async (batches, c) => {
            for (const b of batches) await connections[c]!.query(b.sql, b.params);
          }),
        );
        const eventsPerSecond = ((CLIENTS * PER_CLIENT) / (performance.now() - t0)) * 1000;
        best.set(layout.name, Math.max(best.get(layout.name) ?? 0, eventsPerSecond));
        console.log(`[probe] round ${round} ${layout.name}: ${Math.round(eventsPerSecond)} events/s`);
      }
    }
    const plain = best.get('plain')!;
    for (const [name, eventsPerSecond] of best) {
      console.log(
        `${name.padEnd(26)} ${String(Math.round(eventsPerSecond)).padStart(7)} events/s  ratio to plain ${(eventsPerSecond / plain).toFixed(2)}`,
      );
    }
  } finally {
    await connections[0]!.query(DROP).catch(() => undefined);
    await Promise.all(connections.map((c) => c.end()));
    await database.drop();
  }
}

await main();
