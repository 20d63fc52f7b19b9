import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTokenMap, type TokenMap } from './auth.ts';
import { consoleLogger } from './logger.ts';
import { createSyncServer } from './server.ts';
import { createPgliteStore } from './store/pglite.ts';
import { createPostgresStore } from './store/postgres.ts';
import type { LogStore } from './store/types.ts';

const HELP = `chronicle-server: the Chronicle sync server (protocol: docs/protocol.md)

Usage:
  chronicle-server [--port 8787] [--host 127.0.0.1] [--data ./chronicle-data] [--tokens tokens.json]
  chronicle-server --database-url postgres://user:pass@host:5432/db [--port ...] [--tokens ...]

Storage (one of):
  --data <dir>            embedded PGlite database in <dir> (default ./chronicle-data); created if missing.
                          One server process per data directory.
  --memory                embedded PGlite in memory: everything is lost when the server stops.
  --database-url <url>    PostgreSQL (also $DATABASE_URL). Several server processes may share one database;
                          live updates cross processes through LISTEN/NOTIFY.

Options:
  --port <n>              port to listen on (default 8787, or $PORT); 0 picks a free one
  --host <addr>           address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --tokens <file>         bearer tokens: { "<token>": { "read": ["log", "prefix-*"] | "*", "write": [...] } }.
                          Without it there is NO authentication: everyone may read and write every log.
  --rate <n>              requests per second per client (token bucket; burst 2n; default 100). 0 disables.
  --max-events <n>        events per push (default 1000)
  --max-event-bytes <n>   bytes per event (default 262144)
  --max-request-bytes <n> bytes per request body (default 4194304)
  -h, --help              this help

Endpoints: POST /v1/logs/:log/push, GET /v1/logs/:log/pull, WebSocket /v1/logs/:log/live, GET /health, GET /ready.
SIGTERM / SIGINT: stop accepting, finish pushes in flight, close sockets and the store, exit.
`;

function fail(message: string): never {
  console.error(`chronicle-server: ${message}\nRun chronicle-server --help for usage.`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || (!allowZero && n === 0)) fail(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        memory: { type: 'boolean' },
        'database-url': { type: 'string' },
        tokens: { type: 'string' },
        rate: { type: 'string' },
        'max-events': { type: 'string' },
        'max-event-bytes': { type: 'string' },
        'max-request-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const args = parsed.values;
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }

  const databaseUrl = args['database-url'] ?? process.env.DATABASE_URL;
  if (databaseUrl && (args.data || args.memory)) fail('use either --database-url or --data/--memory, not both');
  if (args.data && args.memory) fail('use either --data or --memory, not both');
  const port = positiveInt('port', args.port ?? process.env.PORT, 8787, true);
  const host = args.host ?? '127.0.0.1';
  const rate = positiveInt('rate', args.rate, 100, true);

  let tokens: TokenMap | undefined;
  if (args.tokens) {
    try {
      tokens = parseTokenMap(JSON.parse(await readFile(args.tokens, 'utf8')));
    } catch (error) {
      fail(`cannot use tokens file ${args.tokens}: ${(error as Error).message}`);
    }
  }

  const logger = consoleLogger;
  let store: LogStore;
  let described: string;
  if (databaseUrl) {
    store = await createPostgresStore({
      connectionString: databaseUrl,
      onError: (error) => logger.warn('postgres notification connection error; reconnecting', { error: error.message }),
    });
    described = `PostgreSQL ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname}`;
  } else if (args.memory) {
    store = await createPgliteStore();
    described = 'PGlite in memory (nothing is kept after exit)';
  } else {
    const dataDir = resolve(args.data ?? './chronicle-data');
    store = await createPgliteStore({ dataDir });
    described = `PGlite ${dataDir}`;
  }

  const server = createSyncServer({
    store,
    ...(tokens ? { auth: { tokens } } : {}),
    logger,
    limits: {
      rateLimit: rate === 0 ? false : { burst: rate * 2, perSecond: rate },
      ...(args['max-events'] ? { maxEventsPerPush: positiveInt('max-events', args['max-events'], 1000) } : {}),
      ...(args['max-event-bytes'] ? { maxEventBytes: positiveInt('max-event-bytes', args['max-event-bytes'], 0) } : {}),
      ...(args['max-request-bytes'] ? { maxRequestBytes: positiveInt('max-request-bytes', args['max-request-bytes'], 0) } : {}),
    },
  });

  let address;
  try {
    address = await server.listen(port, host);
  } catch (error) {
    await store.close().catch(() => undefined);
    fail(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  logger.info(`chronicle-server listening on ${address.url}`, { store: described, auth: tokens ? 'bearer tokens' : 'NONE', pid: process.pid });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: shutting down (finishing requests in flight)`);
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`chronicle-server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
