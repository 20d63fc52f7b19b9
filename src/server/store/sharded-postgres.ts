import { createPostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { createShardedStore, type ShardedLogStore } from './sharded.ts';
import type { LogStore } from './types.ts';

export interface ShardedPostgresStoreOptions extends Omit<PostgresStoreOptions, 'connectionString'> {
  /**
   * The databases, by shard name: `{ a: 'postgres://…/chronicle_a', b: '…' }`.
   * Logs are spread by their names over the shard names (see shardForLog), so
   * keep a shard's name when its connection string changes. Every option
   * besides (pool size, timeouts, channel…) applies to each shard.
   */
  shards: Record<string, string>;
  /** Logs placed on a shard by hand, or moved: log name → shard name. */
  overrides?: Record<string, string>;
  /** The shards logs without an override are hashed over (default: all). */
  placement?: readonly string[];
}

/**
 * A log store over several PostgreSQL databases (docs/scale-out.md): one
 * PostgreSQL store per shard (its own pool and LISTEN connection), each log in
 * one of them by a stable mapping from its name. Every server process given the
 * same shards and overrides serves every log.
 */
export async function createShardedPostgresStore(options: ShardedPostgresStoreOptions): Promise<ShardedLogStore> {
  const { shards, overrides, placement, ...common } = options;
  const entries = Object.entries(shards);
  if (entries.length === 0) throw new Error('createShardedPostgresStore needs at least one shard');
  const opened = await Promise.allSettled(entries.map(([, connectionString]) => createPostgresStore({ ...common, connectionString })));
  const failed = opened.findIndex((result) => result.status === 'rejected');
  if (failed >= 0) {
    await Promise.all(opened.map((result) => (result.status === 'fulfilled' ? result.value.close().catch(() => undefined) : undefined)));
    const reason = (opened[failed] as PromiseRejectedResult).reason as unknown;
    const message = reason instanceof Error ? reason.message : String(reason);
    if (reason instanceof Error) reason.message = `shard "${entries[failed]![0]}": ${message}`;
    throw reason;
  }
  const stores: Record<string, LogStore> = {};
  entries.forEach(([name], i) => (stores[name] = (opened[i] as PromiseFulfilledResult<LogStore>).value));
  try {
    return createShardedStore({ shards: stores, ...(overrides ? { overrides } : {}), ...(placement ? { placement } : {}) });
  } catch (error) {
    await Promise.all(Object.values(stores).map((s) => s.close().catch(() => undefined)));
    throw error;
  }
}
