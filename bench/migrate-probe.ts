/**
 * node --conditions=chronicle-source --import tsx bench/migrate-probe.ts [events]
 *
 * How long the schema 4 -> 5 migration (src/server/store/migrate-pages.ts)
 * takes on PostgreSQL: a database made for the run gets schema 4's tables
 * (their DDL read from git, the last schema-4 commit) holding `events` events
 * (default 100,000; ~150 bytes of JSON each, 1,000 aggregates, 7 clients, one
 * log); then the current store opens it, which migrates, and the time it took
 * to open is printed, with a pull of the last events as a check. Needs the
 * git history (`git show`). The README and docs/protocol.md quote its figure
 * (2026-12-04: 1.4–1.8 s for 100,000 events).
 */
import { execFileSync } from 'node:child_process';
import { createPostgresStore } from '../src/server/index.ts';
import { withProbeDatabase } from './server-bench.ts';

/** The last commit of schema 4. */
const V4_RELEASE = '8a0c158';
const events = Number(process.argv[2] ?? 100_000);

const source = execFileSync('git', ['show', `${V4_RELEASE}:src/server/store/schema.ts`], { encoding: 'utf8' });
const v4Schema = /export const SCHEMA_SQL = `([\s\S]*?)`;/.exec(source)?.[1];
if (!v4Schema) throw new Error(`no SCHEMA_SQL in ${V4_RELEASE}:src/server/store/schema.ts`);

await withProbeDatabase(async (database, admin) => {
  await admin.query(v4Schema);
  await admin.query('INSERT INTO chronicle_schema (version) VALUES (4)');
  // Each client's events in clientSeq order, positions interleaved across clients, aggregates' seqs gapless.
  await admin.query(
    `INSERT INTO chronicle_events
     SELECT 'L', i, 'id-' || i, 'agg-' || (i % 1000), (i - 1) / 1000 + 1, 'client-' || (i % 7), (i - 1) / 7 + 1,
            json_build_object('id', 'id-' || i, 'type', 'ItemAdded', 'data', json_build_object('sku', 'sku-' || (i % 200), 'qty', 3), 'position', i)
       FROM generate_series(1, $1::int) i`,
    [events],
  );
  await admin.query(`INSERT INTO chronicle_logs (log, head) VALUES ('L', $1::bigint)`, [events]);
  const started = performance.now();
  const store = await createPostgresStore({ connectionString: database.url });
  const ms = performance.now() - started;
  const last = await store.pull('L', { after: events - 2, limit: 2 });
  await store.close();
  if (last.eventsJson.length !== 2 || last.head !== events) throw new Error('the migrated log does not end where it should');
  console.log(`[probe] ${events} events migrated from schema 4 to 5 in ${Math.round(ms)} ms`);
});
