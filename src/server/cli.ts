import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integerFlag, refuseRepeats, UsageError } from './cli-args.ts';
import { logNameSchema } from '../core/protocol.ts';
import { describeThrown } from '../core/thrown.ts';
import { parseTokenMap, type TokenMap } from './auth.ts';
import { DEFAULT_SERVER_TIMEOUTS, type ServerTimeouts } from './http/context.ts';
import { consoleLogger, jsonLogger, type Logger } from './logger.ts';
import { loadCheckEvents } from './cli-check-events.ts';
import { createSyncServer, type SyncServerOptions } from './server.ts';
import { openLogStore, placeOf } from './cli-store.ts';
import { handleSignalsDuringStartup } from './startup-signals.ts';
import { surviveLostOutput } from './lost-output.ts';
import type { MigrationProgress } from './store/migrate-pages.ts';
import { createPgliteStore } from './store/pglite.ts';
import { SCHEMA_VERSION } from './store/schema.ts';
import { parseShardMap, shardMapFromUrls, type ShardMap } from './shard-map.ts';
import { cannotUpdateMap } from './shard-map-file.ts';
import { runMoveLog } from './move-log-command.ts';
import { LogMoveError } from './store/log-move.ts';
import { createPostgresStore, DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './store/postgres.ts';
import { createShardedPostgresStore } from './store/sharded-postgres.ts';
import { shardForLog, type ShardedLogStore } from './store/sharded.ts';
import type { LogStore } from './store/types.ts';

const HELP = `chronicle-server: the Chronicle sync server (protocol: docs/protocol.md)

Usage:
  chronicle-server [--port 8787] [--host 127.0.0.1] [--data ./chronicle-data] [--tokens tokens.json]
  chronicle-server --database-url postgres://user:pass@host:5432/db [--port ...] [--tokens ...]
  chronicle-server --shard-map shards.json [--port ...] [--tokens ...]         logs over several databases
  chronicle-server move-log --log <log> --to <shard> --shard-map shards.json [--update-map]
  chronicle-server purge-moved --log <log> --from <shard> --shard-map shards.json
  chronicle-server shard-of --shard-map shards.json <log>...
  chronicle-server migrate (--database-url <url>... | --shard-map shards.json | --data <dir>)

Storage (one of):
  --data <dir>            embedded PGlite database in <dir> (default ./chronicle-data); created if missing.
                          One server process per data directory.
  --memory                embedded PGlite in memory: everything is lost when the server stops.
  --database-url <url>    PostgreSQL (also $DATABASE_URL). Several server processes may share one database;
                          live updates cross processes through LISTEN/NOTIFY.
                          Given more than once (name=url, or a bare URL named after its database): logs are
                          spread over the databases by their names (docs/scale-out.md).
  --shard-map <file>      the databases as a file: { "shards": { "a": "postgres://…", … },
                          "placement": ["a", …] (optional), "overrides": { "<log>": "a", … } (optional) }.
                          SIGHUP re-reads its placement and overrides.

Moving a log between databases (docs/scale-out.md; every server must run this version):
  move-log --log <log> --to <shard>   freeze, copy, verify and switch; pushes meanwhile get 503 and are retried.
      [--update-map]                  then add the override to the --shard-map file (send the servers SIGHUP)
      [--batch-events <n>]            events per copy statement (default 5000)
  purge-moved --log <log> --from <shard>   after every server routes the log to its new database: delete its
                                      rows from the old one (the tombstone stays)
  shard-of <log>...                   which shard each log maps to (placement and overrides; no database access)

Setting up and migrating (a release step, as the role that owns Chronicle's tables):
  migrate                 create the tables or bring them to this version's schema, then exit (0 when done).
                          Servers may then run as a role with SELECT, INSERT, UPDATE and DELETE on them only.

migrate, move-log and purge-moved take the --pg-*-timeout options below too (a migration's or a copy's
statements may need a longer --pg-statement-timeout on a slow disk).

Options:
  --port <n>              port to listen on (default 8787, or $PORT); 0 picks a free one
  --host <addr>           address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --tokens <file>         bearer tokens: { "<token>": { "read": ["log", "prefix-*"] | "*", "write": [...] } }.
                          Without it there is NO authentication: everyone may read and write every log.
  --check-events <file>   a JavaScript module exporting the app's "events" and/or "aggregates" definitions:
                          every pushed event is checked against them (422 INVALID_EVENT when its data fails)
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
  --headers-timeout <ms>  a request line and headers that have not arrived (408; default ${DEFAULT_SERVER_TIMEOUTS.headersMs})
  --reply-timeout <ms>    a reply (or a live socket's messages) the client stopped reading: no progress for this
                          long closes its connection (default ${DEFAULT_SERVER_TIMEOUTS.replyMs})
  --pg-connect-timeout <ms>   opening a PostgreSQL connection or waiting for a pooled one (default ${DEFAULT_POSTGRES_TIMEOUTS.connectTimeoutMs})
  --pg-statement-timeout <ms> statement_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs})
  --pg-lock-timeout <ms>      lock_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.lockTimeoutMs})
  --pg-query-timeout <ms>     the client's wait for a reply (default statement timeout + 2000)
  --pg-idle-tx-timeout <ms>   idle_in_transaction_session_timeout: frees a lost server's locks (default statement timeout)
  --pool-size <n>         PostgreSQL connections (default 10)
  --pg-writes-in-flight <n>   writes to one log sent before the last is answered (default 1: pushes
                          that arrive meanwhile go together in the next; more for a database with cores to spare)
  --shared-buffers-mb <n> PGlite's shared_buffers (default 16; PGlite's own default is 128)

Logs and metrics:
  --log-format <f>        json (one object per line, with requestId) or text (default json)
  --access-log            log every request, not only refused and failed ones
  --no-metrics            no GET /metrics (it needs the prom-client package)
  -h, --help              this help

Endpoints: POST /v1/logs/:log/push, GET /v1/logs/:log/pull, POST /v1/logs/:log/fence, WebSocket /v1/logs/:log/live,
GET /health, GET /ready, GET /metrics.
SIGTERM / SIGINT: finish requests already received (later ones get 503), close sockets and the store, exit.
Before the server listens: stop starting (a new data directory's initdb child stopped, the store closed, the
data directory's lock released) and exit 143 (SIGINT: 130).
`;

function fail(message: string): never {
  console.error(`chronicle-server: ${message}\nRun chronicle-server --help for usage.`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number, allowZero = false, max?: number): number {
  if (value === undefined) return fallback;
  try {
    return integerFlag(name, value, { allowZero, ...(max === undefined ? {} : { max }) });
  } catch (error) {
    if (error instanceof UsageError) fail(error.message);
    throw error;
  }
}

/** parseArgs, then a flag given twice (other than those that take several values) is a usage error. */
function parseCommandLine<T extends Parameters<typeof parseArgs>[0] & { options: Record<string, { multiple?: boolean }> }>(config: T) {
  const parsed = parseArgs({ ...config, tokens: true });
  const multiple = new Set(Object.entries(config.options).flatMap(([name, option]) => (option.multiple ? [name] : [])));
  refuseRepeats(parsed.tokens ?? [], multiple);
  return parsed;
}

/** The PostgreSQL timeout flags, which the server and every command that opens its databases take. */
const PG_TIMEOUT_OPTIONS = {
  'pg-connect-timeout': { type: 'string' },
  'pg-statement-timeout': { type: 'string' },
  'pg-lock-timeout': { type: 'string' },
  'pg-query-timeout': { type: 'string' },
  'pg-idle-tx-timeout': { type: 'string' },
} as const;

/** The PostgreSQL timeouts given by PG_TIMEOUT_OPTIONS' flags (the store's defaults for the rest). */
function pgTimeoutsOf(values: Partial<Record<keyof typeof PG_TIMEOUT_OPTIONS, string | undefined>>): PostgresTimeouts {
  const timeouts: PostgresTimeouts = {};
  for (const [flag, key] of [
    ['pg-connect-timeout', 'connectTimeoutMs'],
    ['pg-statement-timeout', 'statementTimeoutMs'],
    ['pg-lock-timeout', 'lockTimeoutMs'],
    ['pg-query-timeout', 'queryTimeoutMs'],
    ['pg-idle-tx-timeout', 'idleInTransactionTimeoutMs'],
  ] as const) {
    const value = values[flag];
    if (value !== undefined) timeouts[key] = positiveInt(flag, value, 0);
  }
  return timeouts;
}

/** Several databases: a --shard-map file, or --database-url given more than once (or as name=url). */
async function shardSetup(file: string | undefined, urls: readonly string[]): Promise<{ map: ShardMap; file?: string } | undefined> {
  if (file && urls.length > 0) fail('use either --shard-map or --database-url, not both');
  if (file) return { map: await readMap(file), file: resolve(file) };
  const named = urls.some((url) => /^[^:/=]+=/.test(url));
  if (urls.length < 2 && !named) return undefined;
  try {
    return { map: shardMapFromUrls(urls) };
  } catch (error) {
    fail(`--database-url: ${(error as Error).message}`);
  }
}

async function readMap(file: string): Promise<ShardMap> {
  try {
    return parseShardMap(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    fail(`cannot use shard map ${file}: ${(error as Error).message}`);
  }
}

/** SIGHUP: re-read the shard map's placement and overrides (a move added one); the shards themselves need a restart. */
function reloadOnHangup(store: ShardedLogStore, file: string, logger: Logger): void {
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        const map = parseShardMap(JSON.parse(await readFile(file, 'utf8')));
        const names = Object.keys(map.shards).sort();
        if (names.join(',') !== store.shardNames.join(',')) {
          logger.error(
            'SIGHUP: the shard map names other shards; restart the server to change shards (placement and overrides not reloaded)',
            { file, shards: names },
          );
          return;
        }
        store.setMap({ overrides: map.overrides, ...(map.placement ? { placement: map.placement } : {}) });
        logger.info('SIGHUP: shard map reloaded', { file, overrides: Object.keys(map.overrides).length });
      } catch (error) {
        logger.error('SIGHUP: shard map not reloaded', { file, error: (error as Error).message });
      }
    })();
  });
}

/** A migration progress listener that passes one report on every 5 s, so a long migration does not look hung. */
function everyFewSeconds(report: (progress: MigrationProgress) => void): (progress: MigrationProgress) => void {
  let reportedAt = 0;
  return (progress) => {
    if (Date.now() - reportedAt < 5_000) return;
    reportedAt = Date.now();
    report(progress);
  };
}

/**
 * One database's --database-url (or $DATABASE_URL): a connection URL node-postgres takes (postgres://,
 * postgresql://, socket:), else a usage error before any connection. Not echoed: a mistyped URL may still
 * hold a password.
 */
function checkDatabaseUrl(url: string): string {
  if (!/^(postgres|postgresql):\/\//i.test(url) && !/^socket:/i.test(url)) {
    fail('--database-url (or $DATABASE_URL) must be a postgres:// (or socket:) URL, and what was given is not one');
  }
  try {
    new URL(url);
  } catch {
    fail('--database-url (or $DATABASE_URL) is not a valid URL (its host, port or brackets cannot be read)');
  }
  return url;
}

async function main(): Promise<void> {
  surviveLostOutput();
  const command = process.argv[2];
  if (command === 'move-log' || command === 'purge-moved' || command === 'shard-of') return shardCommand(command);
  if (command === 'migrate') return migrateCommand();
  if (command !== undefined && !command.startsWith('-')) {
    fail(
      `unknown command "${command.slice(0, 40)}": the commands are migrate, move-log, purge-moved and shard-of; options alone run the server`,
    );
  }
  let parsed;
  try {
    parsed = parseCommandLine({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        memory: { type: 'boolean' },
        'database-url': { type: 'string', multiple: true },
        'shard-map': { type: 'string' },
        tokens: { type: 'string' },
        'check-events': { type: 'string' },
        rate: { type: 'string' },
        'max-events': { type: 'string' },
        'max-event-bytes': { type: 'string' },
        'max-request-bytes': { type: 'string' },
        'max-header-bytes': { type: 'string' },
        'store-timeout': { type: 'string' },
        'ready-timeout': { type: 'string' },
        'body-timeout': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'reply-timeout': { type: 'string' },
        ...PG_TIMEOUT_OPTIONS,
        'pool-size': { type: 'string' },
        'pg-writes-in-flight': { type: 'string' },
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

  const urls = args['database-url'] ?? (process.env.DATABASE_URL ? [process.env.DATABASE_URL] : []);
  if ((urls.length > 0 || args['shard-map']) && (args.data || args.memory)) {
    const fromEnvironment = args['database-url'] === undefined && !args['shard-map'] ? ' ($DATABASE_URL is set)' : '';
    fail(`use either --database-url / --shard-map or --data/--memory, not both${fromEnvironment}`);
  }
  if (args.data && args.memory) fail('use either --data or --memory, not both');
  const sharding = await shardSetup(args['shard-map'], args['database-url'] ?? []);
  const databaseUrl = sharding || urls[0] === undefined ? undefined : checkDatabaseUrl(urls[0]);
  // An empty $PORT (PORT= in a shell) is unset; an empty --port is a mistake.
  const port = positiveInt('port', args.port ?? (process.env.PORT || undefined), 8787, true, 65_535);
  const host = args.host ?? '127.0.0.1';
  const rate = positiveInt('rate', args.rate, 100, true);

  let tokens: TokenMap | undefined;
  // An empty value (--tokens "$UNSET") must not quietly start a server without authentication.
  if (args.tokens === '') fail('--tokens needs the path of a tokens file; an empty value would start without authentication');
  if (args.tokens !== undefined) {
    try {
      tokens = parseTokenMap(JSON.parse(await readFile(args.tokens, 'utf8')));
    } catch (error) {
      fail(`cannot use tokens file ${args.tokens}: ${(error as Error).message}`);
    }
  }

  const checkEventsPath = args['check-events'];
  let checkEvents: SyncServerOptions['checkEvents'];
  if (checkEventsPath !== undefined) {
    try {
      checkEvents = await loadCheckEvents(checkEventsPath);
    } catch (error) {
      fail(`cannot use --check-events ${checkEventsPath}: ${error instanceof Error ? error.message : describeThrown(error)}`);
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
    ['headers-timeout', 'headersMs'],
    ['reply-timeout', 'replyMs'],
  ] as const) {
    const value = ms(flag);
    if (value !== undefined) timeouts[key] = value;
  }
  const pgTimeouts = pgTimeoutsOf(args);
  const poolSize = ms('pool-size');
  const maxWritesInFlight = ms('pg-writes-in-flight');
  const sharedBuffersMb = ms('shared-buffers-mb');
  // A database of an older schema is migrated as the store opens; moving events into pages (4 -> 5) can take
  // minutes on a large log, so say how far it is, every few seconds, rather than look hung.
  const onMigrationProgress = everyFewSeconds((progress) =>
    logger.info(`migrating the database from schema ${progress.fromVersion} to ${progress.toVersion}`, {
      events: progress.events,
      log: progress.log,
    }),
  );
  const pgliteOptions = { onMigrationProgress, ...(sharedBuffersMb ? { sharedBuffersMb } : {}) };

  const startup = handleSignalsDuringStartup(logger); // from here on a signal undoes the start, then exits
  const { opening, described } = openLogStore({
    sharding,
    databaseUrl,
    memory: Boolean(args.memory),
    data: args.data,
    postgres: {
      ...pgTimeouts,
      ...(poolSize ? { poolSize } : {}),
      ...(maxWritesInFlight ? { maxWritesInFlight } : {}),
      onError: (error: Error): void => logger.warn('postgres connection error (it recovers by itself)', { error: error.message }),
      onMigrationProgress,
    },
    pglite: { ...pgliteOptions, signal: startup.signal },
  });
  const store = await startup.opening(opening);
  if (sharding?.file) reloadOnHangup(store as ShardedLogStore, sharding.file, logger);

  const server = createSyncServer({
    store,
    ...(tokens ? { auth: { tokens } } : {}),
    ...(checkEvents ? { checkEvents } : {}),
    logger,
    timeouts,
    metrics: !args['no-metrics'],
    accessLog: args['access-log'] === true,
    limits: {
      rateLimit: rate === 0 ? false : { burst: rate * 2, perSecond: rate },
      ...(args['max-events'] !== undefined ? { maxEventsPerPush: positiveInt('max-events', args['max-events'], 1000) } : {}),
      ...(args['max-event-bytes'] !== undefined ? { maxEventBytes: positiveInt('max-event-bytes', args['max-event-bytes'], 0) } : {}),
      ...(args['max-request-bytes'] !== undefined
        ? { maxRequestBytes: positiveInt('max-request-bytes', args['max-request-bytes'], 0) }
        : {}),
      ...(args['max-header-bytes'] !== undefined ? { maxHeaderBytes: positiveInt('max-header-bytes', args['max-header-bytes'], 0) } : {}),
    },
  });

  let address;
  try {
    address = await server.listen(port, host);
  } catch (error) {
    // After a signal, listening failing (the store closed under it, say) is part of stopping: exit with its code.
    if (startup.stopped()) return;
    await store.close().catch(() => undefined);
    fail(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  if (!startup.listening()) return; // a signal came first: the process is exiting
  // Signals are handled from here on: whoever reads the line below may signal at once, and a signal that
  // arrives before its listener takes its default action (SIGHUP would end the process without a drain).
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
  // The docs say to SIGHUP every server after a move; one without a map file has nothing to reload, and
  // SIGHUP's default action would end it without a drain.
  if (!sharding?.file) process.on('SIGHUP', () => logger.info('SIGHUP: nothing to reload (the server has no --shard-map file)'));
  logger.info(`chronicle-server listening on ${address.url}`, {
    store: described,
    auth: tokens ? 'bearer tokens' : 'NONE',
    pid: process.pid,
  });
}

/** move-log, purge-moved and shard-of: the operator's side of docs/scale-out.md. */
async function shardCommand(command: 'move-log' | 'purge-moved' | 'shard-of'): Promise<void> {
  let parsed;
  try {
    parsed = parseCommandLine({
      args: process.argv.slice(3),
      options: {
        log: { type: 'string' },
        to: { type: 'string' },
        from: { type: 'string' },
        'shard-map': { type: 'string' },
        'database-url': { type: 'string', multiple: true },
        'update-map': { type: 'boolean' },
        'batch-events': { type: 'string' },
        ...PG_TIMEOUT_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: command === 'shard-of',
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const args = parsed.values;
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  // Each command takes only its own flags: one it ignores would let a mistyped command line do something else.
  const ignored = (
    {
      'move-log': ['from'],
      'purge-moved': ['to', 'update-map', 'batch-events'],
      'shard-of': ['log', 'to', 'from', 'update-map', 'batch-events'],
    } as const
  )[command].filter((name) => args[name] !== undefined);
  if (ignored.length > 0) fail(`${command} does not take --${ignored.join(', --')}`);
  const sharding = await shardSetup(args['shard-map'], args['database-url'] ?? []);
  if (!sharding) fail(`${command} needs the databases: --shard-map <file>, or --database-url name=url for each`);
  const { map } = sharding;

  if (command === 'shard-of') {
    if (parsed.positionals.length === 0) fail('shard-of needs log names');
    const placement = map.placement ?? Object.keys(map.shards);
    for (const log of parsed.positionals) {
      if (!logNameSchema.safeParse(log).success) fail(`shard-of: "${log.slice(0, 80)}" is not a log name (1-64 characters [A-Za-z0-9._-])`);
    }
    for (const log of parsed.positionals) {
      // Own keys only: a log named "constructor" or "toString" would read Object's members as its override.
      const override = Object.hasOwn(map.overrides, log) ? map.overrides[log] : undefined;
      process.stdout.write(`${log}\t${override ?? shardForLog(log, placement)}${override ? '\t(override)' : ''}\n`);
    }
    return;
  }

  const log = args.log;
  if (!log || !logNameSchema.safeParse(log).success) fail('--log must name a log (1-64 characters [A-Za-z0-9._-])');
  const shardArg = command === 'move-log' ? args.to : args.from;
  const flag = command === 'move-log' ? '--to' : '--from';
  if (!shardArg || !Object.hasOwn(map.shards, shardArg)) fail(`${flag} must name one of the shards: ${Object.keys(map.shards).join(', ')}`);
  if (args['update-map'] && !sharding.file) fail('--update-map needs --shard-map');
  // The map is rewritten after the move (a new file renamed over it): find out now that it cannot be, not after the move.
  if (args['update-map'] && sharding.file) {
    const problem = await cannotUpdateMap(sharding.file);
    if (problem) fail(`--update-map: cannot write ${sharding.file} (${problem}); nothing was moved`);
  }
  const batchEvents = args['batch-events'] !== undefined ? positiveInt('batch-events', args['batch-events'], 5000) : undefined;

  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const store = await createShardedPostgresStore({ ...map, ...pgTimeoutsOf(args), poolSize: 2 });
  try {
    if (command === 'purge-moved') {
      const purged = await store.purgeMovedLog(log, shardArg);
      say(`purged log ${log} from ${shardArg}: ${purged.events} events, ${purged.clients} client rows (the tombstone stays)`);
      return;
    }
    process.exitCode = await runMoveLog({
      store,
      log,
      to: shardArg,
      batchEvents,
      updateMap: args['update-map'] ? sharding.file : undefined,
      say,
    });
  } catch (error) {
    if (error instanceof LogMoveError) {
      console.error(`chronicle-server ${command}: ${error.message}\n${JSON.stringify(error.details)}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    await store.close();
  }
}

/**
 * migrate: opens the store, which sets up or migrates its database(s) to
 * SCHEMA_VERSION as it opens (store/schema.ts), and closes it. A deployment
 * runs it as the tables' owner before starting servers as a role that only
 * reads and writes them; a server would do the same at its start.
 */
async function migrateCommand(): Promise<void> {
  let parsed;
  try {
    parsed = parseCommandLine({
      args: process.argv.slice(3),
      options: {
        'database-url': { type: 'string', multiple: true },
        'shard-map': { type: 'string' },
        data: { type: 'string' },
        ...PG_TIMEOUT_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(`migrate: ${(error as Error).message}; it takes --database-url, --shard-map or --data, and --pg-*-timeout`);
  }
  const args = parsed.values;
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const urls = args['database-url'] ?? (process.env.DATABASE_URL ? [process.env.DATABASE_URL] : []);
  if ((urls.length > 0 || args['shard-map']) && args.data) {
    const fromEnvironment = args['database-url'] === undefined && !args['shard-map'] ? ' ($DATABASE_URL is set)' : '';
    fail(`use either --database-url / --shard-map or --data, not both${fromEnvironment}`);
  }
  const sharding = await shardSetup(args['shard-map'], args['database-url'] ?? []);
  // A slow disk may need a longer statement_timeout for the migration's windows than a server's requests do.
  const pgTimeouts = pgTimeoutsOf(args);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const onMigrationProgress = everyFewSeconds((progress) =>
    say(`migrating from schema ${progress.fromVersion} to ${progress.toVersion}: ${progress.events} events moved (log ${progress.log})`),
  );
  let store: LogStore;
  let described: string;
  if (sharding) {
    store = await createShardedPostgresStore({ ...sharding.map, ...pgTimeouts, poolSize: 1, onMigrationProgress });
    described = Object.entries(sharding.map.shards)
      .map(([name, url]) => `shard ${name} (${placeOf(url)})`)
      .join(', ');
  } else if (urls[0]) {
    const url = checkDatabaseUrl(urls[0]);
    store = await createPostgresStore({ connectionString: url, ...pgTimeouts, poolSize: 1, onMigrationProgress });
    described = `PostgreSQL ${placeOf(url)}`;
  } else if (args.data) {
    const dataDir = resolve(args.data);
    store = await createPgliteStore({ dataDir, onMigrationProgress });
    described = `PGlite ${dataDir}`;
  } else {
    fail('migrate needs the database: --database-url <url> (or $DATABASE_URL), --shard-map <file> or --data <dir>');
  }
  await store.close();
  say(`${described}: at Chronicle schema ${SCHEMA_VERSION}`);
}

main().catch((error: unknown) => {
  console.error(`chronicle-server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
