export { openStore, type Store, type StoreEvent } from './store.ts';
export type * from './types.ts';
export type { WorkerOption } from './connection.ts';
export * from '../core/index.ts';
export type { SyncHandle, SyncOptions, SyncStatus, EventOutcome, EventSyncState, RejectedRecord } from './sync.ts';
export { deleteStore, type DeleteStoreOptions, type DeleteStoreResult } from './delete-store.ts';
