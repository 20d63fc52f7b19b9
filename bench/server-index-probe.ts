/**
 * node --conditions=chronicle-source --import tsx bench/server-index-probe.ts
 *
 * What the reference store's table layout alone costs a push, with no server
 * in between: the rows of `server-push` (4 clients x 25,000 events, 500 per
 * statement, 4 concurrent connections) INSERTed straight into
 *
 * - `plain`: server-push's baseline table (a bigserial key, no other index);
 * - `chronicle`: chronicle_events as schema.ts creates it (primary key
 *   (log, position) and the unique (log, id), (log, client_id, client_seq) and
 *   (log, aggregate_id, seq) indexes);
 * - `chronicle, key + id only`: the same table without the last two indexes,
 *   i.e. what a layout that kept clients' ranges and aggregate heads in rows of
 *   their own (one per push, one per aggregate) would leave per event;
 * - `pages, one row per push`: a push's events as one JSON array in one row
 *   keyed by its first position, as the client's IndexedDB stores pages (no
 *   per-event index entry at all).
 *
 * Positions are handed out interleaved across the clients, as concurrent
 * pushes get them. Each layout runs on a fresh table after a CHECKPOINT, in
 * `ROUNDS` interleaved rounds; the best round of each is reported, with its
 * ratio to `plain`. server-push's ratio cannot exceed the `chronicle` ratio
 * here by much: that is the ceiling the current layout sets.
 *
 * Measured 2026-12-04 (2 cores, quiet, four runs): chronicle 0.60-0.73 of plain,
 * key + id only 0.78-0.88, pages 2.4-2.95 (two runs); server-push itself was
 * 0.52 in the same hour.
 */
import pg from 'pg';
import type { NewRow } from '../src/server/push-judge.ts';
import { SCHEMA_SQL } from '../src/server/store/schema.ts';
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
const DROP = 'DROP TABLE IF EXISTS plain_events, chronicle_events, chronicle_logs, chronicle_clients, chronicle_schema, probe_pages';

const LAYOUTS: Layout[] = [
  {
    name: 'plain',
    create: PLAIN_TABLE,
    insert: (rows) => `INSERT INTO plain_events (id, aggregate_id, seq, client_id, client_seq, event) VALUES ${values(rows, 6)}`,
    params: (rows) => rows.flatMap((r) => [r.id, r.aggregateId, r.seq, r.clientId, r.clientSeq, r.json]),
  },
  { name: 'chronicle', create: SCHEMA_SQL, insert: chronicleInsert, params: chronicleParams },
  {
    name: 'chronicle, key + id only',
    create: `${SCHEMA_SQL};
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
