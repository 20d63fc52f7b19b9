/**
 * What one sync server on one PostgreSQL database serves to pullers (README,
 * "Scale-out"): the initial-sync log of server-bench.ts (100k events), then
 * 1, 2, 4 and 8 concurrent clients each pulling all of it over HTTP in pages of
 * 1,000, in this process (so pullers and server share the machine's cores).
 * Prints events/s served per round. Not part of `npm run bench`: it has no
 * baseline, it is the capacity figure the README quotes.
 *
 *   node --conditions=chronicle-source --import tsx bench/server-pull.ts
 */
import { createBenchDatabase, startSyncServer } from './server-bench.ts';

const PAGE = 1000;
const ROUNDS = [1, 2, 4, 8];

const database = await createBenchDatabase();
if ('error' in database) {
  console.error(`server-pull needs PostgreSQL: ${database.error}`);
  process.exit(1);
}
try {
  // The pullers share the bench's one token: no per-client rate limit, or they would measure it.
  const server = await startSyncServer(database, { rateLimit: false });
  try {
    console.log(`log of ${server.events} events (avg ${server.avgEventBytes} bytes) written in ${server.pushMs} ms (store.push, not HTTP)`);

    /** Pulls the whole log page by page; returns how many events came. */
    const pullAll = async (): Promise<number> => {
      let after = 0;
      let count = 0;
      for (;;) {
        const response = await fetch(`${server.url}/v1/logs/${server.log}/pull?after=${after}&limit=${PAGE}`, {
          headers: { authorization: `Bearer ${server.token}` },
        });
        if (!response.ok) throw new Error(`pull after ${after}: HTTP ${response.status}`);
        const body = (await response.json()) as { events: { position: number }[]; hasMore: boolean };
        count += body.events.length;
        // As a client reads a pull: hasMore ends it, with no request for an empty page after the last.
        const last = body.events.at(-1);
        if (!body.hasMore || !last) return count;
        after = last.position;
      }
    };

    for (const pullers of ROUNDS) {
      const started = performance.now();
      const counts = await Promise.all(Array.from({ length: pullers }, pullAll));
      const ms = performance.now() - started;
      const total = counts.reduce((sum, n) => sum + n, 0);
      if (counts.some((n) => n !== server.events)) throw new Error(`a puller got ${counts.join(', ')} of ${server.events} events`);
      console.log(`${pullers} puller(s): ${total} events in ${Math.round(ms)} ms = ${Math.round(total / (ms / 1000))} events/s served`);
    }
  } finally {
    await server.close();
  }
} finally {
  await database.drop();
}
