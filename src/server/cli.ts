import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integerFlag, refuseRepeats, UsageError } from './cli-args.ts';
import { readConfigFile } from './cli-files.ts';
import { oneLine, PG_TIMEOUT_OPTIONS, refuseEmptyValues, refuseOtherStoresFlags } from './cli-flags.ts';
import { logNameSchema } from '../core/protocol.ts';
import { describeThrown } from '../core/thrown.ts';
import { parseTokenMap, type TokenMap } from './auth.ts';
import type { ServerTimeouts } from './http/context.ts';
import { HELP } from './cli-help.ts';
import { consoleLogger, jsonLogger, type Logger } from './logger.ts';
import { loadCheckEvents } from './cli-check-events.ts';
import { DEFAULT_SERVER_LIMITS, MIN_HEADER_BYTES } from './limits.ts';
import { createSyncServer, type SyncServerOptions } from './server.ts';
import { openLogStore, placeOf } from './cli-store.ts';
import { handleSignalsDuringStartup } from './startup-signals.ts';
import { surviveLostOutput } from './lost-output.ts';
import type { MigrationProgress } from './store/migrate-pages.ts';
import { createPgliteStore, MAX_PGLITE_SHARED_BUFFERS_MB } from './store/pglite.ts';
import { SCHEMA_VERSION } from './store/schema.ts';
import { parseShardMap, shardMapFromUrls, type ShardMap } from './shard-map.ts';
import { cannotUpdateMap } from './shard-map-file.ts';
import { runMoveLog } from './move-log-command.ts';
import { LogMoveError } from './store/log-move.ts';
import { createPostgresStore, type PostgresTimeouts } from './store/postgres.ts';
import { createShardedPostgresStore } from './store/sharded-postgres.ts';
import { shardForLog, type ShardedLogStore } from './store/sharded.ts';
import type { LogStore } from './store/types.ts';

function fail(message: string): never {
  console.error(`chronicle-server: ${oneLine(message)}\nRun chronicle-server --help for usage.`);
  process.exit(2);
}

/** Runs a pure command-line rule (cli-flags.ts): its UsageError is a usage failure (exit 2). */
function check(rule: () => void): void {
  try {
    rule();
  } catch (error) {
    if (error instanceof UsageError) fail(error.message);
    throw error;
  }
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

/** --port, else $PORT (an empty $PORT, PORT= in a shell, is unset; an empty --port is a mistake), else 8787. */
function portOf(flag: string | undefined): number {
  if (flag !== undefined || !process.env.PORT) return positiveInt('port', flag, 8787, true, 65_535);
  try {
    return integerFlag('port', process.env.PORT, { allowZero: true, max: 65_535 });
  } catch (error) {
    if (error instanceof UsageError) fail(`$PORT (read since --port is not given): ${error.message.replace(/^--port /, '')}`);
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
    return parseShardMap(JSON.parse(await readConfigFile(file)));
  } catch (error) {
    fail(`cannot use shard map ${file}: ${(error as Error).message}`);
  }
}

/** SIGHUP: re-read the shard map's placement and overrides (a move added one); the shards themselves need a restart. */
function reloadOnHangup(store: ShardedLogStore, file: string, logger: Logger): void {
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        const map = parseShardMap(JSON.parse(await readConfigFile(file)));
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

/**
 * The data directory failing to open as a directory (a file at its path, no permission, a read-only disk):
 * the operator's --data, said as such (exit 2), where the raw errno named a lock file's temporary name.
 * Anything else (PGlite failing, a database error) is passed on as the failure it is.
 */
function dataDirectoryProblem(error: unknown, data: string | undefined): never {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const place = resolve(data ?? './chronicle-data');
  const why: Record<string, string> = {
    EEXIST: 'it is a file, not a directory',
    ENOTDIR: 'a part of its path is a file',
    EACCES: 'this user may not write there',
    EPERM: 'this user may not write there',
    EROFS: 'the file system is read-only',
  };
  if (code !== undefined && why[code] !== undefined) fail(`--data ${place}: cannot keep the database there: ${why[code]} (${code})`);
  throw error;
}

/** The --max-* flags and --rate as the server's limits (each a usage failure when it is not a number the flag takes). */
function limitsOf(
  args: Partial<Record<'max-events' | 'max-event-bytes' | 'max-request-bytes' | 'max-header-bytes', string>>,
  rate: number,
) {
  const flag = (name: keyof typeof args, fallback: number) => positiveInt(name, args[name], fallback);
  const headerBytes = args['max-header-bytes'] === undefined ? undefined : flag('max-header-bytes', 0);
  if (headerBytes !== undefined && headerBytes < MIN_HEADER_BYTES)
    fail(`--max-header-bytes must be at least ${MIN_HEADER_BYTES}: a request line and its headers need that much`);
  const eventBytes = flag('max-event-bytes', DEFAULT_SERVER_LIMITS.maxEventBytes);
  const requestBytes = flag('max-request-bytes', DEFAULT_SERVER_LIMITS.maxRequestBytes);
  // An event the event limit lets through would not fit in a push: refused as too large a request, which its
  // client takes as the event's own fault (a push of it alone) and rejects it for good.
  if (requestBytes < eventBytes)
    fail(
      `--max-request-bytes (${requestBytes}) is below --max-event-bytes (${eventBytes}): a push of one event that large would be refused, and its client would reject the event; lower --max-event-bytes too`,
    );
  return {
    rateLimit: rate === 0 ? (false as const) : { burst: rate * 2, perSecond: rate },
    ...(args['max-events'] !== undefined ? { maxEventsPerPush: flag('max-events', 1000) } : {}),
    ...(args['max-event-bytes'] !== undefined ? { maxEventBytes: eventBytes } : {}),
    ...(args['max-request-bytes'] !== undefined ? { maxRequestBytes: requestBytes } : {}),
    ...(headerBytes !== undefined ? { maxHeaderBytes: headerBytes } : {}),
  } satisfies SyncServerOptions['limits'];
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

  check(() => refuseEmptyValues(args));
  const urls = args['database-url'] ?? (process.env.DATABASE_URL ? [process.env.DATABASE_URL] : []);
  if ((urls.length > 0 || args['shard-map']) && (args.data || args.memory)) {
    const fromEnvironment = args['database-url'] === undefined && !args['shard-map'] ? ' ($DATABASE_URL is set)' : '';
    fail(`use either --database-url / --shard-map or --data/--memory, not both${fromEnvironment}`);
  }
  if (args.data && args.memory) fail('use either --data or --memory, not both');
  const sharding = await shardSetup(args['shard-map'], args['database-url'] ?? []);
  const databaseUrl = sharding || urls[0] === undefined ? undefined : checkDatabaseUrl(urls[0]);
  check(() => refuseOtherStoresFlags(args, sharding || databaseUrl ? 'postgres' : 'pglite'));
  const port = portOf(args.port);
  const host = args.host ?? '127.0.0.1';
  const rate = positiveInt('rate', args.rate, 100, true);

  let tokens: TokenMap | undefined;
  if (args.tokens !== undefined) {
    try {
      tokens = parseTokenMap(JSON.parse(await readConfigFile(args.tokens)));
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
  const sharedBuffersMb =
    args['shared-buffers-mb'] === undefined
      ? undefined
      : positiveInt('shared-buffers-mb', args['shared-buffers-mb'], 0, false, MAX_PGLITE_SHARED_BUFFERS_MB);
  // A database of an older schema is migrated as the store opens; moving events into pages (4 -> 5) can take
  // minutes on a large log, so say how far it is, every few seconds, rather than look hung.
  const onMigrationProgress = everyFewSeconds((progress) =>
    logger.info(`migrating the database from schema ${progress.fromVersion} to ${progress.toVersion}`, {
      events: progress.events,
      log: progress.log,
    }),
  );
  const pgliteOptions = { onMigrationProgress, ...(sharedBuffersMb ? { sharedBuffersMb } : {}) };

  // Checked before the store opens: a mistyped limit must not wait for (or follow) a database's start.
  const limits = limitsOf(args, rate);

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
  const onDisk = !sharding && !databaseUrl && !args.memory;
  const store = await startup
    .opening(opening)
    .catch((error: unknown) => (onDisk ? dataDirectoryProblem(error, args.data) : Promise.reject(error)));
  if (sharding?.file) reloadOnHangup(store as ShardedLogStore, sharding.file, logger);

  const server = createSyncServer({
    store,
    ...(tokens ? { auth: { tokens } } : {}),
    ...(checkEvents ? { checkEvents } : {}),
    logger,
    timeouts,
    metrics: !args['no-metrics'],
    accessLog: args['access-log'] === true,
    limits,
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
      'shard-of': ['log', 'to', 'from', 'update-map', 'batch-events', ...Object.keys(PG_TIMEOUT_OPTIONS)],
    } as const
  )[command].filter((name) => args[name as keyof typeof args] !== undefined);
  if (ignored.length > 0) fail(`${command} does not take --${ignored.join(', --')}`);
  check(() => refuseEmptyValues(args));
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
  check(() => refuseEmptyValues(args));
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
    check(() => refuseOtherStoresFlags(args, 'pglite', 'migrate'));
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
  console.error(`chronicle-server: ${oneLine(error instanceof Error ? error.message : String(error))}`);
  process.exit(1);
});
