/**
 * The contract between the client (src/client) and the engine: the one
 * module of worker/ the client imports (a lint rule holds it to that, plus
 * the lazy import of the in-process engine in connection.ts). It names the
 * engine's requests, results, records and change events, and the few pure
 * helpers both sides share (the page codec, the error transfer).
 */
export type { Engine, EngineOptions } from './engine.ts';
export type { EngineHost } from './index.ts';
export type {
  AppendOutcome,
  AppendRequest,
  Change,
  EventOutcome,
  EventSyncState,
  LogCursor,
  LogEnd,
  LogPageQuery,
  LogPageResult,
  RawPage,
  StoreStats,
  StreamQuery,
  SyncStatus,
} from './types.ts';
export { CONFIRMED, PENDING } from './types.ts';
export type {
  JobRecord,
  ParkedRecord,
  ProcessedRecord,
  ProjectionRecord,
  ProjectionStamp,
  ReactionRecord,
  RejectedRecord,
  SnapshotRecord,
} from './db.ts';
export type { ReactionAdvance, ReactionSpec, ReactionStatusRecord } from './reaction-store.ts';
export type { CompactionAggregate, CompactionPlan, DropRequest, DropResult } from './compaction.ts';
export type { SnapshotAndTail } from './reads.ts';
export type { SyncCallbacks, SyncConfig, WebSocketFactory } from './sync/sync-engine.ts';
export type { RebaseConflict, RebaseDecision } from './rebase.ts';
export { decodePageJson } from './page-codec.ts';
export type { ScanStep } from './scan-sessions.ts';
export { SCAN_GONE } from './scan-sessions.ts';
export { outcomesFromWire, requestsToWire, wireBuffers, type AppendWire, type OutcomesWire } from './append-wire.ts';
export { CHANGE, FAILURE, REPLY, type CallMessage, type CallReply, type WireError } from './call-port.ts';
export { spliceEventJson } from './page-builder.ts';
export { installErrorTransfer } from './error-transfer.ts';
export { deleteDatabase } from './delete-database.ts';
export { toStorageError } from './storage-errors.ts';
