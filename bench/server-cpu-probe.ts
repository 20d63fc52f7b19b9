/**
 * node --conditions=chronicle-source --import tsx bench/server-cpu-probe.ts
 *
 * Where server-push's time goes: both sides of the metric (the plain INSERTs
 * and the pushes over HTTP to a Chronicle server on PostgreSQL), each run
 * `ROUNDS` times, interleaved, on fresh tables, with the CPU time each used:
 * PostgreSQL's (every postgres process on this machine, from /proc: run it on
 * a quiet database server) and this Node process's (every thread: the
 * server's event loop, its push decoders, the clients' worker).
 *
 * On 2 cores both sides keep both cores busy, so a side's rate is about
 * 2 cores / its CPU per event. Measured 2026-12-04 (schema 5), per 100,000
 * events: plain INSERTs 0.8-1.1 core-s in PostgreSQL and 0.4-0.6 in Node;
 * Chronicle 1.15-1.5 in PostgreSQL (schema 4: 1.6-2.1 in the same hour) and
 * 1.3-1.6 in Node (HTTP both ways, JSON parse, validation and stringify of
 * every event, judging, building the statement). That Node share alone is
 * more than the plain side's whole budget at 0.8 of its rate. Later that
 * evening, with lz4 on the page columns (store/compression.ts): Chronicle
 * 0.74-0.95 in PostgreSQL, about the plain side's 0.70-0.91, and 1.07-1.23
 * in Node against 0.39-0.44.
 *
 * Then the floor (floor-server.ts): the same pushes to a bare HTTP server that
 * stores each body as one row. Measured 2026-12-05, three rounds, per 100,000
 * events: plain 0.91-0.95 core-s in PostgreSQL and 0.45-0.60 in Node;
 * Chronicle 0.86-1.12 and 1.16-1.38; the floor 0.33-0.37 and 0.36-0.41
 * (1.8-2.15x plain), with JSON.parse 0.34-0.38 and 0.54-0.59, with
 * Chronicle's validation 0.31-0.36 and 0.61-0.70 (1.1-1.4x plain). So the
 * HTTP hop and the push's validation leave room for 0.8 of plain; what does
 * not fit is the rest of Chronicle's own work: about 0.5 core-s in
 * PostgreSQL (an id row per event, a head upsert per aggregate of a push,
 * about 216 per 500 events here, the ranges) and 0.5 in Node (the decoder
 * thread's copies, judging, pages, the statement's parameters, the 500
 * positions of each reply).
 *
 * Each side's line also gives the WAL the server wrote. 2026-12-05: plain
 * 52.5 MB per 100k events; Chronicle 41.6-42.0 MB with heads UPDATEd where
 * their rows exist (statements.ts), 44.2 MB when every head was upserted
 * (the statement of c5ca993, run the same hour).
 *
 * And the event loop's own share of the Node time, and how idle the cores
 * were. 2026-12-06, three rounds, per 100k events: plain 0.36-0.45 core-s
 * on its event loop, cores idle 17-19 %; Chronicle 0.44-0.49 (the push
 * decoder thread and V8's helper threads take the rest of its 1.10-1.28),
 * idle 14-26 %; the floor with validation 0.37-0.43, idle 18-22 %. Both
 * sides leave about the same fifth of the machine idle, so Chronicle's lower
 * rate is its CPU per event, not waits of its own.
 */
import pg from 'pg';
import { measure, type Measurement } from './cpu-time.ts';
import { FLOOR_MODES, FLOOR_TABLE, startFloorServer } from './floor-server.ts';
import { benchPostgresStore, benchServer, PLAIN_TABLE, pushClients, runBaseline, runPushes, withProbeDatabase } from './server-bench.ts';

const ROUNDS = 3;
const TABLES =
  'plain_events, floor_pushes, chronicle_pages, chronicle_event_ids, chronicle_heads, chronicle_ranges, chronicle_clients, chronicle_logs, chronicle_schema';

await withProbeDatabase(async (database, admin) => {
  for (let round = 1; round <= ROUNDS; round++) {
    const runId = `cpu${round}-${Date.now().toString(36)}`;
    const clients = pushClients(runId);
    const warm = pushClients(`${runId}-warm`, 10).map((c, i) => ({ ...c, token: clients[i]!.token }));
    const events = clients.reduce((n, c) => n + c.events.length, 0);
    const per100k = (value: number): number => Math.round((value * 100_000) / events);
    const line = (name: string, m: Measurement<{ eventsPerSecond: number }>): string =>
      `${name} ${Math.round(m.result.eventsPerSecond)} events/s, per 100k events: postgres ${per100k(m.postgresMs)} ms, ` +
      `node ${per100k(m.nodeMs)} ms (event loop ${per100k(m.mainThreadMs)}), WAL ${(per100k(m.walBytes ?? Number.NaN) / 1e6).toFixed(1)} MB, ` +
      `cores idle ${m.idlePercent} %`;

    await admin.query(`DROP TABLE IF EXISTS ${TABLES}; ${PLAIN_TABLE}`);
    const connections = await Promise.all(
      clients.map(async () => {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        return client;
      }),
    );
    await runBaseline(connections, warm);
    await admin.query('TRUNCATE plain_events; CHECKPOINT');
    const plain = await measure(() => runBaseline(connections, clients), admin);
    await Promise.all(connections.map((c) => c.end()));

    await admin.query(`DROP TABLE IF EXISTS ${TABLES}`);
    const store = await benchPostgresStore(database.url);
    const server = benchServer(store, clients);
    const { url } = await server.listen(0, '127.0.0.1');
    await runPushes(url, 'bench-warmup', warm);
    await admin.query('CHECKPOINT');
    const chronicle = await measure(() => runPushes(url, 'bench-push', clients), admin);
    await server.close();

    const floors: string[] = [];
    for (const mode of FLOOR_MODES) {
      await admin.query(`DROP TABLE IF EXISTS floor_pushes; ${FLOOR_TABLE}`);
      const floor = await startFloorServer(database.url, mode);
      await runPushes(floor.url, 'floor-warmup', warm);
      await admin.query('CHECKPOINT');
      floors.push(line(`floor ${mode}`, await measure(() => runPushes(floor.url, 'floor', clients), admin)));
      await floor.close();
    }

    console.log(`[probe] round ${round}: ${[line('plain', plain), line('chronicle', chronicle), ...floors].join(' | ')}`);
  }
});
