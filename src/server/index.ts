/**
 * chronicle/server: the Node sync server. Mount `createSyncServer(...).handler`
 * on an existing node:http server (plus `attachWebSocket(server)` for the live
 * channel), or call `listen(port)`. docs/protocol.md describes the wire protocol.
 *
 * Importing this module loads none of the drivers (pg, @electric-sql/pglite,
 * ws, prom-client): they are optional peers, each loaded where it is first
 * needed, with a ConfigError naming the package when it is not installed.
 */
export { createSyncServer } from './server.ts';
export type { CorsOptions, ListenAddress, PushDecodingOptions, ServerTimeouts, SyncServer, SyncServerOptions } from './server.ts';
export type { CheckEventsOption } from './http/push-data-check.ts';
export { DEFAULT_PUSH_DECODING } from './http/push-decoder.ts';
export { DEFAULT_SERVER_TIMEOUTS } from './http/context.ts';
export { createPgliteStore } from './store/pglite.ts';
export type { PgliteStoreOptions } from './store/pglite.ts';
export { createPostgresStore, DEFAULT_POSTGRES_TIMEOUTS } from './store/postgres.ts';
export type { PostgresStoreOptions, PostgresTimeouts } from './store/postgres.ts';
export { createShardedPostgresStore } from './store/sharded-postgres.ts';
export type { ShardedPostgresStoreOptions } from './store/sharded-postgres.ts';
export { createShardedStore, shardForLog } from './store/sharded.ts';
export type { ShardedLogStore, ShardedStoreOptions } from './store/sharded.ts';
export { LogMoveError } from './store/log-move.ts';
export type { MoveLogOptions, MoveReport, MoveStep } from './store/log-move.ts';
export { SCHEMA_VERSION } from './store/schema.ts';
export type { MigrationProgress, MigrationProgressListener } from './store/migrate-pages.ts';
export { toPullResponse, pullPageToJson } from './store/types.ts';
export type {
  DecodedPush,
  FenceResult,
  HeadListener,
  LogStore,
  PreparedPush,
  PullInput,
  PullPage,
  PushedEventKeys,
  PushInput,
  PushResult,
  ResyncListener,
  StoreStats,
} from './store/types.ts';
export { ANONYMOUS, bearerTokens, grants, parseTokenMap, requestToken } from './auth.ts';
export type { Authenticate, AuthOption, LogGrant, Principal, TokenMap } from './auth.ts';
export { DEFAULT_SERVER_LIMITS } from './limits.ts';
export type { RateLimit, ServerLimits } from './limits.ts';
export { SyncError, isSyncError } from './errors.ts';
export { consoleLogger, createJsonLogger, jsonLogger, silentLogger } from './logger.ts';
export type { Logger } from './logger.ts';
