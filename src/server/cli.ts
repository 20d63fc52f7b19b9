import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTokenMap, type TokenMap } from './auth.ts';
import { DEFAULT_SERVER_TIMEOUTS, type ServerTimeouts } from './http/context.ts';
import { consoleLogger, jsonLogger, type Logger } from './logger.ts';
import { createSyncServer } from './server.ts';
import { createPgliteStore } from './store/pglite.ts';
import { createPostgresStore, DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './store/postgres.ts';
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
  --max-header-bytes <n>  bytes of request line + headers (default 32768); more gets 431

Timeouts (milliseconds; every wait is bounded, a store that does not answer in time gives 503):
  --store-timeout <ms>    a push, pull or fence the store has not answered (default ${DEFAULT_SERVER_TIMEOUTS.storeMs})
  --ready-timeout <ms>    GET /ready's ping of the store (default ${DEFAULT_SERVER_TIMEOUTS.readyMs})
  --body-timeout <ms>     a request body that has not arrived (408; default ${DEFAULT_SERVER_TIMEOUTS.bodyMs})
  --shutdown-timeout <ms> SIGTERM waits this long for requests in flight (default ${DEFAULT_SERVER_TIMEOUTS.shutdownMs})
  --pg-connect-timeout <ms>   opening a PostgreSQL connection or waiting for a pooled one (default ${DEFAULT_POSTGRES_TIMEOUTS.connectTimeoutMs})
  --pg-statement-timeout <ms> statement_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs})
  --pg-lock-timeout <ms>      lock_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.lockTimeoutMs})
  --pg-query-timeout <ms>     the client's wait for a reply (default statement timeout + 2000)
  --pool-size <n>         PostgreSQL connections (default 10)
  --shared-buffers-mb <n> PGlite's shared_buffers (default 16; PGlite's own default is 128)

Logs and metrics:
  --log-format <f>        json (one object per line, with requestId) or text (default json)
  --access-log            log every request, not only refused and failed ones
  --no-metrics            no GET /metrics (it needs the prom-client package)
  -h, --help              this help

Endpoints: POST /v1/logs/:log/push, GET /v1/logs/:log/pull, POST /v1/logs/:log/fence, WebSocket /v1/logs/:log/live,
GET /health, GET /ready, GET /metrics.
SIGTERM / SIGINT: finish requests already received (later ones get 503), close sockets and the store, exit.
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
        'max-header-bytes': { type: 'string' },
        'store-timeout': { type: 'string' },
        'ready-timeout': { type: 'string' },
        'body-timeout': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'pg-connect-timeout': { type: 'string' },
        'pg-statement-timeout': { type: 'string' },
        'pg-lock-timeout': { type: 'string' },
        'pg-query-timeout': { type: 'string' },
        'pool-size': { type: 'string' },
        'shared-buffers-mb': { type: 'string' },
        'log-format': { type: 'string' },
        'access-log': { type: 'boolean' },
        'no-metrics': { type: 'boolean' },
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

  const format = args['log-format'] ?? 'json';
  if (format !== 'json' && format !== 'text') fail(`--log-format must be json or text, got "${format}"`);
  const logger: Logger = format === 'json' ? jsonLogger : consoleLogger;
  const ms = (name: string): number | undefined => {
    const value = args[name as keyof typeof args];
    return typeof value === 'string' ? positiveInt(name, value, 0) : undefined;
  };
  const timeouts: Partial<ServerTimeouts> = {};
  for (const [flag, key] of [
    ['store-timeout', 'storeMs'],
    ['ready-timeout', 'readyMs'],
    ['body-timeout', 'bodyMs'],
    ['shutdown-timeout', 'shutdownMs'],
  ] as const) {
    const value = ms(flag);
    if (value !== undefined) timeouts[key] = value;
  }
  const pgTimeouts: PostgresTimeouts = {};
  for (const [flag, key] of [
    ['pg-connect-timeout', 'connectTimeoutMs'],
    ['pg-statement-timeout', 'statementTimeoutMs'],
    ['pg-lock-timeout', 'lockTimeoutMs'],
    ['pg-query-timeout', 'queryTimeoutMs'],
  ] as const) {
    const value = ms(flag);
    if (value !== undefined) pgTimeouts[key] = value;
  }
  const poolSize = ms('pool-size');
  const sharedBuffersMb = ms('shared-buffers-mb');
  const pgliteOptions = sharedBuffersMb ? { sharedBuffersMb } : {};

  let store: LogStore;
  let described: string;
  if (databaseUrl) {
    store = await createPostgresStore({
      connectionString: databaseUrl,
      ...pgTimeouts,
      ...(poolSize ? { poolSize } : {}),
      onError: (error) => logger.warn('postgres connection error (it recovers by itself)', { error: error.message }),
    });
    described = `PostgreSQL ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname}`;
  } else if (args.memory) {
    store = await createPgliteStore(pgliteOptions);
    described = 'PGlite in memory (nothing is kept after exit)';
  } else {
    const dataDir = resolve(args.data ?? './chronicle-data');
    store = await createPgliteStore({ dataDir, ...pgliteOptions });
    described = `PGlite ${dataDir}`;
  }

  const server = createSyncServer({
    store,
    ...(tokens ? { auth: { tokens } } : {}),
    logger,
    timeouts,
    metrics: !args['no-metrics'],
    accessLog: args['access-log'] === true,
    limits: {
      rateLimit: rate === 0 ? false : { burst: rate * 2, perSecond: rate },
      ...(args['max-events'] ? { maxEventsPerPush: positiveInt('max-events', args['max-events'], 1000) } : {}),
      ...(args['max-event-bytes'] ? { maxEventBytes: positiveInt('max-event-bytes', args['max-event-bytes'], 0) } : {}),
      ...(args['max-request-bytes'] ? { maxRequestBytes: positiveInt('max-request-bytes', args['max-request-bytes'], 0) } : {}),
      ...(args['max-header-bytes'] ? { maxHeaderBytes: positiveInt('max-header-bytes', args['max-header-bytes'], 0) } : {}),
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
