import { UsageError } from './cli-args.ts';

/**
 * Rules for chronicle-server's command line beyond one flag's number (cli-args.ts): values that cannot mean
 * what they seem to, flags the chosen store would ignore, and how the CLI shows what it was given. Pure: each
 * rule throws a UsageError (exit 2); cli.ts does the I/O.
 */

/**
 * Flags that name a place or a file, and what each would do with an empty value (`--host "$UNSET"`): never
 * what was meant, so an empty value is refused instead of read as "not given".
 */
const EMPTY_WOULD: Readonly<Record<string, string>> = {
  host: 'listen on every network interface',
  data: 'put the database in the working directory',
  'shard-map': 'start on the default data directory',
  tokens: 'start without authentication',
};

export function refuseEmptyValues(values: Readonly<Record<string, unknown>>): void {
  for (const [name, would] of Object.entries(EMPTY_WOULD)) {
    if (values[name] === '') throw new UsageError(`--${name} needs a value; an empty one would ${would}`);
  }
}

/** The PostgreSQL timeout flags, which the server and every command that opens its databases take (parseArgs options). */
export const PG_TIMEOUT_OPTIONS = {
  'pg-connect-timeout': { type: 'string' },
  'pg-statement-timeout': { type: 'string' },
  'pg-lock-timeout': { type: 'string' },
  'pg-query-timeout': { type: 'string' },
  'pg-idle-tx-timeout': { type: 'string' },
} as const;

/** Flags only a PostgreSQL store reads: its timeouts, and the pool's. */
const POSTGRES_FLAGS = [...Object.keys(PG_TIMEOUT_OPTIONS), 'pool-size', 'pg-writes-in-flight'];

/** Flags only an embedded PGlite store reads. */
const PGLITE_FLAGS = ['shared-buffers-mb'];

/**
 * Refuses a flag the store in use would ignore (`--pool-size` on PGlite, `--shared-buffers-mb` on PostgreSQL):
 * the command line would say something the server does not do, and the operator would tune nothing.
 */
export function refuseOtherStoresFlags(values: Readonly<Record<string, unknown>>, store: 'postgres' | 'pglite', command = ''): void {
  const foreign = store === 'postgres' ? PGLITE_FLAGS : POSTGRES_FLAGS;
  const given = foreign.find((name) => values[name] !== undefined);
  if (given === undefined) return;
  const using = store === 'postgres' ? 'PostgreSQL (--database-url, --shard-map)' : 'embedded PGlite (--data, --memory)';
  const applies = store === 'postgres' ? 'embedded PGlite' : 'PostgreSQL';
  throw new UsageError(`${command ? `${command}: ` : ''}--${given} applies to ${applies} only, and this runs on ${using}`);
}

/**
 * A message as one line on the terminal: control characters (a newline in a flag's value could forge a log
 * line) written as escapes, and at most `max` characters (a 100 KB value would bury the reason).
 */
export function oneLine(message: string, max = 1000): string {
  const flat = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return flat.length > max ? `${flat.slice(0, max)}… (${flat.length - max} more characters)` : flat;
}
