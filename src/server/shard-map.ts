import { logNameSchema } from '../core/protocol.ts';
import { SHARD_NAME } from './store/sharded.ts';

/**
 * Where the CLI finds its databases when there are several (docs/scale-out.md):
 * a shard map file, or `--database-url` given more than once.
 *
 * The file is JSON:
 *
 *   {
 *     "shards":    { "a": "postgres://…/chronicle_a", "b": "postgres://…/chronicle_b" },
 *     "placement": ["a", "b"],          // optional: the shards logs are hashed over (default: all)
 *     "overrides": { "shop-42": "b" }   // optional: logs placed by hand, or moved
 *   }
 *
 * `--database-url name=url` names a shard; a bare URL is named after its
 * database (the last path segment), so the same URLs give the same names.
 */
export interface ShardMap {
  shards: Record<string, string>;
  placement?: string[];
  overrides: Record<string, string>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A connection string as an error may show it: its password masked (`//user:***@`), since such messages reach
 * terminals and logs. Also for strings that are no URL: a mistyped one may still hold a password.
 */
export function maskPassword(text: string): string {
  return text.replace(/(\/\/[^/@:]*:).*@/, '$1***@').slice(0, 100);
}

function checkUrl(name: string, url: unknown): string {
  if (typeof url !== 'string') throw new Error(`shard "${name}": the connection string must be a string`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`shard "${name}": "${maskPassword(url)}" is not a URL`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new Error(`shard "${name}": expected a postgres:// URL, got ${parsed.protocol}`);
  return url;
}

function checkName(name: string): string {
  if (!SHARD_NAME.test(name))
    throw new Error(`"${name}" is not a valid shard name: 1-64 characters [A-Za-z0-9_.-], starting with a letter or digit`);
  return name;
}

/**
 * Two shard names for one database would let a move leave a log's tombstone
 * in the database that holds it: refused. Compared by host, port and database
 * name (credentials aside; a host spelled two ways is not caught).
 */
function checkDistinct(shards: Record<string, string>): void {
  const byDatabase = new Map<string, string>();
  for (const [name, url] of Object.entries(shards)) {
    const parsed = new URL(url);
    const database = `${parsed.hostname.toLowerCase()}:${parsed.port || '5432'}${decodeURIComponent(parsed.pathname)}`;
    const other = byDatabase.get(database);
    if (other !== undefined)
      throw new Error(`shards "${other}" and "${name}" name the same database: each shard must be a database of its own`);
    byDatabase.set(database, name);
  }
}

/** Validates a parsed shard map (file contents). */
export function parseShardMap(value: unknown): ShardMap {
  if (!isRecord(value)) throw new Error('the shard map must be a JSON object with "shards"');
  for (const key of Object.keys(value))
    if (!['shards', 'placement', 'overrides'].includes(key))
      throw new Error(`unknown key "${key}" (expected shards, placement, overrides)`);
  if (!isRecord(value.shards) || Object.keys(value.shards).length === 0)
    throw new Error('"shards" must map at least one shard name to a postgres:// URL');
  const shards: Record<string, string> = {};
  for (const [name, url] of Object.entries(value.shards)) shards[checkName(name)] = checkUrl(name, url);
  checkDistinct(shards);
  const out: ShardMap = { shards, overrides: {} };
  if (value.placement !== undefined) {
    if (!Array.isArray(value.placement) || value.placement.length === 0 || value.placement.some((s) => typeof s !== 'string')) {
      throw new Error('"placement" must be a non-empty list of shard names');
    }
    for (const shard of value.placement as string[])
      if (!Object.hasOwn(shards, shard)) throw new Error(`"placement" names shard "${shard}", which is not in "shards"`);
    out.placement = [...(value.placement as string[])];
  }
  if (value.overrides !== undefined) {
    if (!isRecord(value.overrides)) throw new Error('"overrides" must map log names to shard names');
    for (const [log, shard] of Object.entries(value.overrides)) {
      if (!logNameSchema.safeParse(log).success)
        throw new Error(`the override ${JSON.stringify(log.slice(0, 80))} is not a log name (1-64 characters [A-Za-z0-9._-])`);
      if (typeof shard !== 'string' || !Object.hasOwn(shards, shard))
        throw new Error(`the override for log "${log}" names shard ${JSON.stringify(shard)}, which is not in "shards"`);
      out.overrides[log] = shard;
    }
  }
  return out;
}

/** `--database-url` values: `name=url` or a bare URL (named after its database). */
export function shardMapFromUrls(values: readonly string[]): ShardMap {
  const shards: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const named = eq > 0 && !value.slice(0, eq).includes(':');
    const url = named ? value.slice(eq + 1) : value;
    let name = named ? value.slice(0, eq) : '';
    if (!named) {
      try {
        name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
      } catch {
        throw new Error(`"${maskPassword(value)}" is not a URL`);
      }
      if (!name) throw new Error(`"${maskPassword(value)}" names no database: give it a name (name=url)`);
    }
    checkName(name);
    if (Object.hasOwn(shards, name)) throw new Error(`shard "${name}" is given twice`);
    shards[name] = checkUrl(name, url);
  }
  checkDistinct(shards);
  return { shards, overrides: {} };
}
