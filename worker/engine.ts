import { ChronicleError, StoreClosedError } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import { uuidv7 } from '../src/core/ids.ts';
import { commitAppendGroup } from './append.ts';
import { StateCache } from './state-cache.ts';
import {
  openChronicleDb,
  type ChronicleDB,
  type JobRecord,
  type ProjectionRecord,
  type ProjectionStamp,
  type SnapshotRecord,
} from './db.ts';
import { importPendingRaw, ingestConfirmed, type IngestResult } from './ingest.ts';
import { newMeta } from './meta.ts';
import { indexBacklog } from './indexer.ts';
import { backlogRange } from './page-store.ts';
import { readLogPages, readSnapshotAndTail, readStreamHead, readStreamPages } from './reads.ts';
import { toStorageError } from './storage-errors.ts';
import { createSyncRunner, type SyncCallbacks, type SyncConfig, type SyncRunner, type WebSocketFactory } from './sync/sync-engine.ts';
import type { RejectedRecord } from './db.ts';
import type {
  SyncStatus,
  AppendOutcome,
  AppendRequest,
  Change,
  LogCursor,
  LogPageQuery,
  LogPageResult,
  RawPage,
  StoreStats,
  StreamQuery,
} from './types.ts';

export interface EngineOptions {
  /** The IndexedDB database name. */
  name: string;
}

/**
 * The storage engine: owns the IndexedDB log and knows nothing of the app's
 * event types or reducers (those run in the client). Every method takes and
 * returns plain data, so the same object serves in-process callers and, via
 * comlink, the main thread from a Web Worker.
 */
export interface Engine {
  stats(): Promise<StoreStats>;
  /** Appends one request; requests arriving while a transaction runs share the next one. */
  append(request: AppendRequest): Promise<AppendOutcome>;
  /** Appends several requests atomically: all of them or none. */
  appendBatch(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  /** Stores server-confirmed events (a sync pull page or an import), as JSON or objects. */
  ingestConfirmed(events: string | StoredEvent[]): Promise<IngestResult>;
  /** Stores pending events exactly as exported elsewhere (ids, seqs, clientIds kept). */
  importPending(events: StoredEvent[]): Promise<{ stored: number }>;
  readLog(query: LogPageQuery): Promise<LogPageResult>;
  readStream(query: StreamQuery): Promise<RawPage[]>;
  /** An aggregate's snapshot and up to `maxPages` pages after it, in one transaction. */
  readSnapshotAndTail(aggregateId: string, maxPages: number): Promise<{ snapshot: SnapshotRecord | undefined; pages: RawPage[] }>;
  /** The highest seq stored for an aggregate (0 when it has no events). */
  streamHead(aggregateId: string): Promise<number>;
  getSnapshot(aggregateId: string): Promise<SnapshotRecord | undefined>;
  putSnapshot(snapshot: SnapshotRecord): Promise<void>;
  deleteSnapshot(aggregateId: string): Promise<void>;
  getProjection(name: string): Promise<ProjectionRecord | undefined>;
  /** Writes a projection's state and cursors if the stored ones are still `expected` (compare-and-set). */
  commitProjection(expected: ProjectionStamp, record: ProjectionRecord): Promise<boolean>;
  deleteProjection(name: string): Promise<void>;
  getJob(name: string): Promise<JobRecord | undefined>;
  putJob(job: JobRecord): Promise<void>;
  deleteJob(name: string): Promise<void>;
  /** Starts syncing with a server (this tab syncs while it holds the store's sync lock). */
  startSync(config: SyncConfig, callbacks?: SyncCallbacks, local?: { webSocket?: WebSocketFactory; fetch?: typeof fetch }): Promise<void>;
  syncStatus(): Promise<SyncStatus>;
  /** One full sync round now; rejects if it fails, if sync is paused, or if another tab is the one syncing. */
  syncNow(): Promise<void>;
  pauseSync(): Promise<void>;
  resumeSync(): Promise<void>;
  /** Pending events the server refused for good (or a rebase rule dropped), kept for the app to inspect. */
  rejectedEvents(): Promise<RejectedRecord[]>;
  /** Forgets rejected events the app has dealt with (all of them without ids). */
  dismissRejected(ids?: string[]): Promise<void>;
  /** Calls `listener` after every commit here or in another tab; returns an id for unsubscribe. */
  subscribe(listener: (change: Change) => void): number;
  unsubscribe(id: number): void;
  close(): Promise<void>;
}

interface QueuedAppend {
  request: AppendRequest;
  resolve(outcome: AppendOutcome): void;
  reject(error: unknown): void;
}

function sameCursor(a: LogCursor | null, b: LogCursor | null): boolean {
  if (a === null || b === null) return a === b;
  return a.area === b.area && a.page === b.page && a.index === b.index;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const { name } = options;
  let closed = false;
  let dbPromise: Promise<ChronicleDB> | undefined;

  const getDb = (): Promise<ChronicleDB> => {
    if (closed) return Promise.reject(new StoreClosedError(name));
    if (!dbPromise) {
      const opening = openChronicleDb(name, {
        onGone() {
          // Drop the connection; the next operation reopens it.
          if (dbPromise === opening) dbPromise = undefined;
          opening.then((db) => db.close(), () => undefined);
        },
      });
      dbPromise = opening;
      opening.catch(() => {
        if (dbPromise === opening) dbPromise = undefined;
      });
    }
    return dbPromise;
  };

  /** Runs a storage operation, turning IndexedDB failures into typed errors. */
  const run = async <T>(operation: string, fn: (db: ChronicleDB) => Promise<T>): Promise<T> => {
    const db = await getDb();
    try {
      return await fn(db);
    } catch (error) {
      throw toStorageError(name, operation, error);
    }
  };

  // Make sure the client record (clientId, counters) exists before anything reads it.
  await run('open', async (db) => {
    const tx = db.transaction('meta', 'readwrite');
    const meta = await tx.store.get('client');
    if (!meta) await tx.store.put(newMeta(uuidv7()), 'client');
    await tx.done;
  });

  // --- change feed: this tab's listeners, and other tabs through a BroadcastChannel
  const listeners = new Map<number, (change: Change) => void>();
  let nextListener = 1;
  const emitLocal = (change: Change) => {
    for (const listener of listeners.values()) {
      try {
        listener(change);
      } catch {
        // A failing subscriber must not break the engine or other subscribers.
      }
    }
  };
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`chronicle:${name}`) : undefined;
  if (channel) {
    channel.onmessage = (message: MessageEvent<Change>) => {
      const change = message.data;
      if (change.kind === 'sync') lastSyncStatus = change.status;
      // Another tab appended: if this tab is the one syncing, push it.
      if (change.kind === 'appended' && change.count > 0) sync?.trigger();
      // Pausing is for the store, not the tab: the tab that syncs obeys a pause from any other.
      if (change.kind === 'syncControl') {
        if (change.paused) sync?.pause();
        else sync?.resume();
      }
      emitLocal(change);
    };
  }
  // Other tabs hear of a change one task later, once the caller's reply is
  // posted: a BroadcastChannel post costs ~0.1 ms of this thread, a
  // single-event append's whole round trip ~1.5 ms. Order is kept.
  const outbox: Change[] = [];
  let channelOpen = channel !== undefined;
  const sendOutbox = () => {
    const changes = outbox.splice(0);
    // A change published while closing finds the channel gone: nobody is told by a closed engine.
    if (channelOpen) for (const change of changes) channel?.postMessage(change);
  };
  const publish = (change: Change) => {
    emitLocal(change);
    if (channel && outbox.push(change) === 1) setTimeout(sendOutbox, 0);
  };

  // --- deferred indexing of bulk-ingested pages, when the engine is idle
  let lastActivity = Date.now();
  let indexTimer: ReturnType<typeof setTimeout> | undefined;
  const INDEX_IDLE_MS = 300;
  const scheduleIndexing = () => {
    if (indexTimer || closed) return;
    indexTimer = setTimeout(async () => {
      indexTimer = undefined;
      if (closed) return;
      if (Date.now() - lastActivity < INDEX_IDLE_MS) return scheduleIndexing();
      try {
        const left = await run('index', (db) => indexBacklog(db, 50));
        if (left > 0) scheduleIndexing();
      } catch {
        scheduleIndexing(); // e.g. the database closed under us: try again later
      }
    }, INDEX_IDLE_MS);
  };
  const busy = () => {
    lastActivity = Date.now();
  };

  // --- group commit: appends that arrive while a transaction runs share the next one
  let sync: SyncRunner | undefined;
  const cache = new StateCache();
  let lastSyncStatus: SyncStatus | undefined;
  const queue: QueuedAppend[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (queue.length > 0) {
      const group = queue.splice(0, queue.length);
      try {
        const result = await run('append', (db) =>
          commitAppendGroup(
            db,
            group.map((q) => q.request),
            { atomic: false, newClientId: uuidv7, cache },
          ),
        );
        result.outcomes.forEach((outcome, i) => {
          if (outcome instanceof Error) group[i]!.reject(outcome);
          else group[i]!.resolve(outcome);
        });
        if (result.written > 0) {
          publish({ kind: 'appended', aggregates: result.moved, count: result.written });
          sync?.trigger();
        }
      } catch (error) {
        // The transaction failed as a whole: nothing of the group was written.
        for (const q of group) q.reject(error);
      }
    }
    flushing = false;
  };

  const engine: Engine = {
    stats: () =>
      run('stats', async (db) => {
        const meta = await db.get('meta', 'client');
        if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
        return {
          name,
          clientId: meta.clientId,
          pendingEvents: meta.pendingEvents,
          confirmedEvents: meta.confirmedEvents,
          confirmedHead: meta.confirmedHead,
          unindexedEvents: meta.indexedThrough === undefined ? 0 : meta.confirmedHead - meta.indexedThrough,
        };
      }),
    append(request) {
      return new Promise<AppendOutcome>((resolve, reject) => {
        if (closed) return reject(new StoreClosedError(name));
        queue.push({ request, resolve, reject });
        if (!flushing) void flush();
      });
    },
    async appendBatch(requests) {
      const result = await run('appendBatch', (db) => commitAppendGroup(db, requests, { atomic: true, newClientId: uuidv7, cache }));
      if (result.written > 0) {
        publish({ kind: 'appended', aggregates: result.moved, count: result.written });
        sync?.trigger();
      }
      return result.outcomes as AppendOutcome[];
    },
    async ingestConfirmed(events) {
      busy();
      const list = typeof events === 'string' ? (JSON.parse(events) as StoredEvent[]) : events;
      if (!Array.isArray(list)) throw new ChronicleError('VALIDATION', 'ingestConfirmed expects an array of events');
      const result = await run('ingest', (db) => ingestConfirmed(db, list));
      busy();
      scheduleIndexing();
      if (result.stored > 0) {
        publish({ kind: 'appended', aggregates: result.moved, count: result.stored });
        publish({ kind: 'confirmed', head: result.head, count: result.stored });
      }
      return result;
    },
    async importPending(events) {
      if (!Array.isArray(events)) throw new ChronicleError('VALIDATION', 'importPending expects an array of events');
      const result = await run('importPending', (db) => importPendingRaw(db, events));
      if (result.stored > 0) publish({ kind: 'appended', aggregates: result.moved, count: result.stored });
      return { stored: result.stored };
    },
    readLog: (query) => {
      busy();
      return run('readLog', (db) => readLogPages(db, query));
    },
    readStream: (query) => run('readStream', (db) => readStreamPages(db, query)),
    readSnapshotAndTail: (aggregateId, maxPages) => run('load', (db) => readSnapshotAndTail(db, aggregateId, maxPages, cache)),
    streamHead: (aggregateId) => run('streamHead', (db) => readStreamHead(db, aggregateId)),
    getSnapshot: (aggregateId) => run('getSnapshot', (db) => db.get('snapshots', aggregateId)),
    putSnapshot: (snapshot) => run('putSnapshot', async (db) => void (await db.put('snapshots', snapshot, snapshot.aggregateId))),
    deleteSnapshot: (aggregateId) => run('deleteSnapshot', (db) => db.delete('snapshots', aggregateId)),
    getProjection: (projection) => run('getProjection', (db) => db.get('projections', projection)),
    commitProjection: (expected, record) =>
      run('commitProjection', async (db) => {
        const tx = db.transaction('projections', 'readwrite');
        const found = await tx.store.get(record.name);
        const current = found && found.version === record.version ? found : undefined;
        const matches =
          sameCursor(current?.cursor ?? null, expected.cursor) &&
          sameCursor(current?.pending?.cursor ?? null, expected.pendingCursor);
        if (!matches) {
          await tx.done;
          return false;
        }
        await tx.store.put(record, record.name);
        await tx.done;
        publish({ kind: 'projection', name: record.name });
        return true;
      }),
    deleteProjection: (projection) => run('deleteProjection', (db) => db.delete('projections', projection)),
    getJob: (job) => run('getJob', (db) => db.get('jobs', job)),
    putJob: (job) => run('putJob', async (db) => void (await db.put('jobs', job, job.name))),
    deleteJob: (job) => run('deleteJob', (db) => db.delete('jobs', job)),
    async startSync(config, callbacks = {}, local = {}) {
      if (sync) throw new ChronicleError('CONFIG', 'sync is already started for this store');
      if (!config || typeof config.url !== 'string' || !/^https?:\/\//.test(config.url)) {
        throw new ChronicleError('CONFIG', 'sync.url must be an http(s) URL', { url: config?.url });
      }
      const meta = await run('startSync', (db) => db.get('meta', 'client'));
      sync = createSyncRunner(
        { name, clientId: meta!.clientId, getDb, publish, webSocket: local.webSocket, fetch: local.fetch },
        config,
        callbacks,
      );
    },
    async syncStatus() {
      const own = sync?.status();
      const meta = await run('syncStatus', (db) => db.get('meta', 'client'));
      // Counts come from storage, so they stay true while sync is paused or idle.
      if (own?.leader) return { ...own, pending: meta?.pendingEvents ?? own.pending, confirmedPosition: meta?.confirmedHead ?? own.confirmedPosition };
      const base: SyncStatus = lastSyncStatus ?? {
        state: sync ? 'standby' : 'disabled',
        leader: false,
        pending: 0,
        confirmedPosition: 0,
        serverHead: 0,
        lastSyncAt: null,
        lastError: null,
        progress: null,
      };
      return {
        ...base,
        leader: false,
        state: own?.state === 'paused' ? 'paused' : base.state,
        pending: meta?.pendingEvents ?? 0,
        confirmedPosition: meta?.confirmedHead ?? 0,
      };
    },
    async syncNow() {
      if (!sync) throw new ChronicleError('CONFIG', 'sync is not configured for this store');
      await sync.syncNow();
    },
    async pauseSync() {
      sync?.pause();
      publish({ kind: 'syncControl', paused: true });
    },
    async resumeSync() {
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
    subscribe(listener) {
      const id = nextListener++;
      listeners.set(id, listener);
      return id;
    },
    unsubscribe(id) {
      listeners.delete(id);
    },
    async close() {
      if (closed) return;
      // Let appends already accepted finish before the connection goes.
      while (flushing || queue.length > 0) await new Promise((r) => setTimeout(r, 1));
      await sync?.stop();
      closed = true;
      if (indexTimer) clearTimeout(indexTimer);
      listeners.clear();
      sendOutbox();
      channelOpen = false;
      channel?.close();
      const db = await dbPromise?.catch(() => undefined);
      db?.close();
      dbPromise = undefined;
    },
  };
  // A bulk ingest of an earlier session may have left pages to index.
  const meta = await run('open', (db) => db.get('meta', 'client'));
  if (meta && backlogRange(meta)) scheduleIndexing();
  return engine;
}
