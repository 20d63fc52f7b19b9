import { ConfigError } from '../src/core/errors.ts';
import { isHttpUrl } from '../src/core/text-rules.ts';
import type { ChronicleDB, RejectedRecord, SyncControlRecord, SyncEncryptionRecord, SyncLogRecord } from './db.ts';
import { createSyncRunner, type SyncCallbacks, type SyncConfig, type SyncRunner, type WebSocketFactory } from './sync/sync-engine.ts';
import { FLUSH_TO_DISK } from './durability.ts';
import { initialSyncStatus, type Change, type SyncStatus } from './types.ts';
import { ownPendingEvents } from '../src/core/unfinished-work.ts';

export interface SyncControlDeps {
  name: string;
  getDb(): Promise<ChronicleDB>;
  run<T>(operation: string, fn: (db: ChronicleDB) => Promise<T>): Promise<T>;
  publish(change: Change): void;
}

/** The engine's sync methods; the loop itself lives in worker/sync/. */
export interface SyncControl {
  start(
    config: SyncConfig,
    callbacks?: SyncCallbacks,
    local?: { webSocket?: WebSocketFactory | undefined; fetch?: typeof fetch | undefined },
  ): Promise<void>;
  status(): Promise<SyncStatus>;
  syncNow(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  rejectedEvents(): Promise<RejectedRecord[]>;
  dismissRejected(ids?: string[]): Promise<void>;
  /** Events were written here: the tab that syncs pushes them. */
  trigger(): void;
  /** A change another tab published. */
  heard(change: Change): void;
  stop(): Promise<void>;
}

/** Writes the store's SyncEncryptionRecord unless it has one (the first encrypted log and start are what it keeps). */
async function markEncrypted(db: ChronicleDB, log: string): Promise<void> {
  // Flushed: forgotten after a power cut, it would let a build without the keys push the events in plaintext.
  const tx = db.transaction('sync', 'readwrite', FLUSH_TO_DISK);
  if ((await tx.store.get('encryption')) === undefined) {
    const record: SyncEncryptionRecord = { log, since: Date.now() };
    await tx.store.put(record, 'encryption');
  }
  await tx.done;
}

/**
 * Binds the store to `log` on its first start of sync, or checks that it is the
 * log it is bound to: a store's events belong to one log (README, "a store
 * syncs one log"). Started with another, it pushed its pending events into
 * that log (another tenant's) and took that log's history for its own.
 */
async function bindLog(db: ChronicleDB, log: string): Promise<void> {
  const tx = db.transaction('sync', 'readwrite');
  const bound = (await tx.store.get('log')) as SyncLogRecord | undefined;
  if (bound === undefined) {
    const record: SyncLogRecord = { log, since: Date.now() };
    await tx.store.put(record, 'log');
  }
  await tx.done;
  if (bound !== undefined && bound.log !== log) {
    throw new ConfigError(
      `This store syncs the log "${bound.log}", not "${log}": its events belong to "${bound.log}". Open a store of another name for "${log}" (one store per log), or delete this one (deleteStore) first`,
      { log, boundLog: bound.log },
    );
  }
}

export function createSyncControl(deps: SyncControlDeps): SyncControl {
  const { run, publish } = deps;
  let sync: SyncRunner | undefined;
  // What the tab that syncs last said, for the tabs that do not.
  let lastSyncStatus: SyncStatus | undefined;
  const saveControl = (paused: boolean) =>
    run('syncControl', (db) => db.put('sync', { paused, at: Date.now() } satisfies SyncControlRecord, 'control').then(() => undefined));
  return {
    async start(config, callbacks = {}, local = {}) {
      if (sync) throw new ConfigError('sync is already started for this store');
      if (!config || !isHttpUrl(config.url)) {
        throw new ConfigError('sync.url must be an http(s) URL', { url: config?.url });
      }
      await run('startSync', (db) => bindLog(db, config.log ?? 'default'));
      const [meta, control] = await run('startSync', (db) =>
        Promise.all([db.get('meta', 'client'), db.get('sync', 'control') as Promise<SyncControlRecord | undefined>]),
      );
      // Kept before anything syncs, in this tab or (being the same database) any other: from now on no start
      // without encryption pushes this store's events in plaintext (sync-engine.ts, worker/sync/encryption.ts).
      if (config.encryption) await run('startSync', (db) => markEncrypted(db, config.log ?? 'default'));
      sync = createSyncRunner(
        { name: deps.name, clientId: meta!.clientId, getDb: deps.getDb, publish, webSocket: local.webSocket, fetch: local.fetch },
        config,
        callbacks,
      );
      // Paused by the app in another tab or an earlier session: it stays paused until resume(). (Set before the
      // runner's first round, which waits for the sync lock.)
      if (control?.paused) void sync.pause();
    },
    async status() {
      const own = sync?.status();
      const meta = await run('syncStatus', (db) => db.get('meta', 'client'));
      // Counts come from storage, so they stay true while sync is paused or idle. Pending: this client's own
      // (another device's pending events that importLog copied here reach the server from that device only).
      if (own?.leader)
        return {
          ...own,
          pending: meta ? ownPendingEvents(meta) : own.pending,
          confirmedPosition: meta?.confirmedHead ?? own.confirmedPosition,
        };
      const base: SyncStatus = lastSyncStatus ?? initialSyncStatus(sync ? 'standby' : 'disabled');
      return {
        ...base,
        leader: false,
        state: own?.state === 'paused' ? 'paused' : base.state,
        pending: meta ? ownPendingEvents(meta) : 0,
        confirmedPosition: meta?.confirmedHead ?? 0,
      };
    },
    async syncNow() {
      if (!sync) throw new ConfigError('sync is not configured for this store');
      await sync.syncNow();
    },
    async pause() {
      // Kept first, for the tabs that open later and the next session; then the other tabs hear it (the one
      // syncing may be another), and this tab's round in flight stops.
      await saveControl(true);
      const stopping = sync?.pause();
      publish({ kind: 'syncControl', paused: true });
      await stopping;
    },
    async resume() {
      await saveControl(false);
      sync?.resume();
      publish({ kind: 'syncControl', paused: false });
    },
    dismissRejected: (ids) =>
      run('dismissRejected', async (db) => {
        const tx = db.transaction('rejected', 'readwrite');
        if (ids === undefined) await tx.store.clear();
        else await Promise.all(ids.map((id) => tx.store.delete(id)));
        await tx.done;
      }),
    rejectedEvents: () => run('rejectedEvents', (db) => db.getAll('rejected')),
    trigger() {
      sync?.changed();
    },
    heard(change) {
      if (change.kind === 'sync') lastSyncStatus = change.status;
      // Another tab appended: if this tab is the one syncing, push it.
      if (change.kind === 'appended' && change.count > 0) sync?.changed();
      // Pausing is for the store, not the tab: the tab that syncs obeys a pause from any other.
      if (change.kind === 'syncControl') {
        if (change.paused) void sync?.pause();
        else sync?.resume();
      }
    },
    async stop() {
      await sync?.stop();
    },
  };
}
