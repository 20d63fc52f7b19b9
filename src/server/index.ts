/**
 * chronicle/server: the Node sync server. Mount `createSyncServer(...).handler`
 * on an existing node:http server (plus `attachWebSocket(server)` for the live
 * channel), or call `listen(port)`. docs/protocol.md describes the wire protocol.
 */
export { createSyncServer } from './server.ts';
export type { CorsOptions, ListenAddress, SyncServer, SyncServerOptions } from './server.ts';
export { createPgliteStore } from './store/pglite.ts';
export type { PgliteStoreOptions } from './store/pglite.ts';
export { createPostgresStore } from './store/postgres.ts';
export type { PostgresStoreOptions } from './store/postgres.ts';
export { toPullResponse, pullPageToJson } from './store/types.ts';
export type { HeadListener, LogStore, PreparedPush, PullInput, PullPage, PushInput, PushResult, ResyncListener } from './store/types.ts';
export { ANONYMOUS, bearerTokens, grants, parseTokenMap, requestToken } from './auth.ts';
export type { Authenticate, AuthOption, LogGrant, Principal, TokenMap } from './auth.ts';
export { DEFAULT_SERVER_LIMITS } from './limits.ts';
export type { RateLimit, ServerLimits } from './limits.ts';
export { SyncError, isSyncError } from './errors.ts';
export { consoleLogger, silentLogger } from './logger.ts';
export type { Logger } from './logger.ts';
