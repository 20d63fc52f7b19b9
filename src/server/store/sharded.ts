import { createHash } from 'node:crypto';
import { SyncError } from '../errors.ts';
import { moveLogBetween, purgeMovedLog, type MoveLogOptions, type MoveReport } from './log-move.ts';
import { refuse } from './log-move-error.ts';
import { toLogMove } from './move-state.ts';
import type { SqlLogStore } from './sql-log-store.ts';
import type {
  DecodedPush,
  FenceResult,
  HeadListener,
  LogStore,
  PreparedPush,
  PullInput,
  PullPage,
  PushInput,
  PushResult,
  ResyncListener,
  StoreStats,
} from './types.ts';

/**
 * Logs spread over several databases (docs/scale-out.md). Each log lives in
 * one shard, chosen by a stable mapping from its name:
 *
 * 1. an override (`overrides[log]`), for logs placed by hand or moved;
 * 2. else rendezvous hashing over the placement shards' names (by default
 *    every shard): the shard whose md5(`${shard}/${log}`) is highest. Adding a
 *    shard to the placement sends it only the logs that now hash to it;
 *    renaming or reordering connection strings moves none. A shard outside
 *    the placement gets logs only by overrides (moves): that is how a new
 *    database is brought in without moving any log by accident.
 *
 * A log that was moved away leaves a tombstone naming its new shard; a request
 * that meets one (503 "log-moved") is sent there, and this store remembers
 * it, so a node whose map has not caught up with a move still serves the log
 * from where it is. Every node serves every log: each shard store has its own
 * connections and, on PostgreSQL, its own LISTEN connection, so live updates
 * cross nodes per shard.
 */

/** The shard `log` hashes to among `shards` (rendezvous hashing; overrides aside). */
export function shardForLog(log: string, shards: readonly string[]): string {
  let best: string | undefined;
  let bestScore = -1n;
  for (const shard of shards) {
    const digest = createHash('md5').update(`${shard}/${log}`).digest();
    const score = digest.readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && best !== undefined && shard < best)) {
      best = shard;
      bestScore = score;
    }
  }
  if (best === undefined) throw new Error('no shards');
  return best;
}

/** Shard names: what the map file and --database-url name=url accept. */
export const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ShardedStoreOptions {
  /** The shards by name (at least one). Names are what the mapping hashes: keep them when connection strings change. */
  shards: Record<string, LogStore>;
  /** Logs placed on a shard by hand: log name → shard name. */
  overrides?: Record<string, string>;
  /** The shards other logs are hashed over (default: every shard). */
  placement?: readonly string[];
}

export interface ShardedLogStore extends LogStore {
  readonly shardNames: readonly string[];
  /** The shard this store sends `log` to now: an override, else where it learnt the log moved, else the hash. */
  shardOf(log: string): string;
  /** One shard's store. */
  shard(name: string): LogStore;
  /** Replaces the overrides and the placement (the shard map file changed). Unknown shard names are refused. */
  setMap(map: { overrides?: Record<string, string>; placement?: readonly string[] }): void;
  /**
   * Moves a log to another shard, with no event lost or doubled
   * (docs/scale-out.md): pushes meanwhile get 503 "log-moving" and are
   * retried by clients. Needs SQL shards (PostgreSQL or PGlite).
   */
  moveLog(log: string, to: string, options?: MoveLogOptions): Promise<MoveReport>;
  /** After a move, once every node routes the log to its new shard: deletes its rows where it was (the tombstone stays). */
  purgeMovedLog(log: string, from: string): Promise<{ events: number; clients: number }>;
}

/** How many moved logs a store remembers (beyond the overrides). */
const MAX_LEARNT = 10_000;
/** A move chain longer than this is a loop (or a map gone wrong). */
const MAX_HOPS = 4;

function checkPlacement(placement: readonly string[] | undefined, names: readonly string[]): string[] {
  if (placement === undefined) return [...names];
  const known = new Set(names);
  for (const shard of placement)
    if (!known.has(shard)) throw new Error(`The placement names shard "${shard}", which is not one of ${names.join(', ')}`);
  const out = [...new Set(placement)].sort();
  if (out.length === 0) throw new Error('The placement must name at least one shard');
  return out;
}

function checkOverrides(overrides: Record<string, string>, names: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [log, shard] of Object.entries(overrides)) {
    if (!names.has(shard))
      throw new Error(`The override for log "${log}" names shard "${shard}", which is not one of ${[...names].join(', ')}`);
    out.set(log, shard);
  }
  return out;
}

const isSqlStore = (store: LogStore): store is SqlLogStore => 'driver' in store && 'forget' in store;

/** Where a refusal says the log went (503 "log-moved"), if it says so. */
function movedTo(error: unknown): string | undefined {
  if (!(error instanceof SyncError) || error.code !== 'UNAVAILABLE' || error.details.reason !== 'log-moved') return undefined;
  return typeof error.details.shard === 'string' ? error.details.shard : undefined;
}

export function createShardedStore(options: ShardedStoreOptions): ShardedLogStore {
  const stores = new Map(Object.entries(options.shards));
  if (stores.size === 0) throw new Error('A sharded store needs at least one shard');
  for (const name of stores.keys())
    if (!SHARD_NAME.test(name))
      throw new Error(`Invalid shard name "${name}": 1-64 characters [A-Za-z0-9_.-], starting with a letter or digit`);
  const names = [...stores.keys()].sort();
  const nameSet = new Set(names);
  let overrides = checkOverrides(options.overrides ?? {}, nameSet);
  let placement = checkPlacement(options.placement, names);
  /** Logs this store found moved (tombstones it followed, moves it made), most recent last. */
  const learnt = new Map<string, string>();

  const mapped = (log: string): string => overrides.get(log) ?? shardForLog(log, placement);
  const shardOf = (log: string): string => learnt.get(log) ?? mapped(log);

  const learn = (log: string, shard: string): void => {
    learnt.delete(log);
    if (mapped(log) === shard) return;
    learnt.set(log, shard);
    if (learnt.size > MAX_LEARNT) learnt.delete(learnt.keys().next().value!);
  };

  /** Runs `fn` on the log's shard, following tombstones to where the log moved. */
  const routed = async <T>(log: string, fn: (store: LogStore) => Promise<T>): Promise<T> => {
    let name = shardOf(log);
    for (let hop = 0; ; hop++) {
      try {
        return await fn(stores.get(name)!);
      } catch (error) {
        const next = movedTo(error);
        if (next === undefined || next === name || hop >= MAX_HOPS) throw error;
        if (!stores.has(next)) {
          throw new SyncError('UNAVAILABLE', `Log "${log}" moved to shard "${next}", which this server is not configured with`, {
            reason: 'log-moved',
            shard: next,
          });
        }
        learn(log, next);
        name = next;
      }
    }
  };

  const sqlShard = (name: string): SqlLogStore => {
    const store = stores.get(name);
    if (!store) throw new Error(`Unknown shard "${name}" (shards: ${names.join(', ')})`);
    if (!isSqlStore(store)) throw new Error(`Shard "${name}" is not a SQL store: moving logs needs PostgreSQL or PGlite shards`);
    return store;
  };

  /**
   * The shard that holds the log now: from where this store sends it,
   * following tombstones, and following a move into that shard back to the
   * shard it comes from (an interrupted move to the shard the map names: the
   * log is still where the move started, and running it again resumes it).
   */
  const locate = async (log: string): Promise<string> => {
    let name = shardOf(log);
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const rows = await sqlShard(name).driver.query<{ move_state: string | null; move_peer: string | null }>(
        'SELECT move_state, move_peer FROM chronicle_logs WHERE log = $1',
        [log],
      );
      const move = toLogMove(rows[0]?.move_state, rows[0]?.move_peer);
      if (move?.state !== 'moved' && move?.state !== 'moving-in') return name;
      name = move.peer;
    }
    throw new Error(`Log "${log}" moved more than ${MAX_HOPS} times in a row: a loop?`);
  };

  /**
   * Before a move: the shard the map (and its tombstones) send the log to
   * holds it, or no shard does (a log not written yet moves too: its
   * tombstone keeps writers off the old database). A map that sends it where
   * it never was, while another shard holds its events, would "move" an empty
   * log and route it there, away from its history: refused.
   */
  const checkHeldWhereMapped = async (log: string, located: string): Promise<void> => {
    const holds = async (name: string, live: boolean): Promise<boolean> => {
      const rows = await sqlShard(name).driver.query<{ head: string | number; move_state: string | null }>(
        'SELECT head, move_state FROM chronicle_logs WHERE log = $1',
        [log],
      );
      const row = rows[0];
      return row !== undefined && (!live || (Number(row.head) > 0 && row.move_state !== 'moved'));
    };
    if (await holds(located, false)) return;
    for (const name of names) {
      if (name !== located && (await holds(name, true))) {
        throw refuse(
          `The shard map sends log "${log}" to "${located}", which never held it, but "${name}" holds its events: fix the map first`,
          {
            log,
            mapped: located,
            holder: name,
          },
        );
      }
    }
  };

  const store: ShardedLogStore = {
    kind: `sharded(${[...new Set([...stores.values()].map((s) => s.kind))].join(',')})`,
    shardNames: names,
    shardOf,
    shard: (name) => {
      const found = stores.get(name);
      if (!found) throw new Error(`Unknown shard "${name}"`);
      return found;
    },
    setMap(map) {
      const nextOverrides = checkOverrides(map.overrides ?? {}, nameSet);
      placement = checkPlacement(map.placement, names);
      overrides = nextOverrides;
      for (const [log, shard] of [...learnt]) if (mapped(log) === shard) learnt.delete(log);
    },

    push: (log: string, push: PushInput, prepared?: PreparedPush): Promise<PushResult> => routed(log, (s) => s.push(log, push, prepared)),
    pull: (log: string, query: PullInput): Promise<PullPage> => routed(log, (s) => s.pull(log, query)),
    head: (log: string): Promise<number> => routed(log, (s) => s.head(log)),
    clientSeq: (log: string, clientId: string): Promise<number> => routed(log, (s) => s.clientSeq(log, clientId)),
    fence: (log: string, clientId: string, epoch: number): Promise<FenceResult> => routed(log, (s) => s.fence(log, clientId, epoch)),

    watch(onHead: HeadListener, onResync?: ResyncListener) {
      const stops = [...stores.values()].map((s) => s.watch(onHead, onResync));
      return () => {
        for (const stop of stops) stop();
      };
    },

    async ping() {
      // Ready when every shard is: this node serves every log.
      await Promise.all([...stores.values()].map((s) => s.ping()));
    },

    stats(): StoreStats {
      let errors = 0;
      let pool: StoreStats['pool'];
      let listen: StoreStats['listen'];
      for (const s of stores.values()) {
        const one = s.stats?.();
        if (!one) continue;
        errors += one.errors;
        if (one.listen) {
          listen = { connected: (listen?.connected ?? 0) + one.listen.connected, total: (listen?.total ?? 0) + one.listen.total };
        }
        if (one.pool) {
          pool = pool
            ? {
                total: pool.total + one.pool.total,
                idle: pool.idle + one.pool.idle,
                waiting: pool.waiting + one.pool.waiting,
                max: pool.max + one.pool.max,
              }
            : { ...one.pool };
        }
      }
      return { ...(pool ? { pool } : {}), errors, ...(listen ? { listen } : {}) };
    },

    async close() {
      await Promise.all([...stores.values()].map((s) => s.close()));
    },

    async moveLog(log, to, moveOptions) {
      if (!stores.has(to)) throw new Error(`Unknown shard "${to}" (shards: ${names.join(', ')})`);
      const from = await locate(log);
      await checkHeldWhereMapped(log, from);
      const source = sqlShard(from);
      const target = sqlShard(to);
      const report = await moveLogBetween(log, { name: from, driver: source.driver }, { name: to, driver: target.driver }, moveOptions);
      source.forget(log);
      target.forget(log);
      learn(log, to);
      return report;
    },

    purgeMovedLog(log, from) {
      return purgeMovedLog(log, { name: from, driver: sqlShard(from).driver });
    },
  };
  // Decoded pushes (see LogStore.pushDecoded) when every shard takes them.
  if ([...stores.values()].every((s) => s.pushDecoded)) {
    store.pushDecoded = (log: string, push: DecodedPush, prepared?: Pick<PreparedPush, 'deadline'>): Promise<PushResult> =>
      routed(log, (s) => s.pushDecoded!(log, push, prepared));
  }
  return store;
}
