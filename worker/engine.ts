import { ChronicleError, StorageError, StoreClosedError } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import { uuidv7 } from '../src/core/ids.ts';
import { createBookkeeping, type Bookkeeping } from './bookkeeping.ts';
import { createReactionStore, type ReactionStore } from './reaction-store.ts';
import { dropCompacted, planCompaction, type CompactionPlan, type DropRequest, type DropResult } from './compaction.ts';
import type { RetentionOptions } from '../src/core/compaction.ts';
import { serveCalls } from './call-port.ts';
import { createChangeFeed } from './change-feed.ts';
import { DatabaseDeletingError, type ChronicleDB, type RejectedRecord } from './db.ts';
import { createDbConnection } from './db-connection.ts';
import type { AppendDurability } from './durability.ts';
import { createGroupCommit } from './group-commit.ts';
import { createIdleIndexer } from './idle-indexer.ts';
import { indexBacklog, indexLaterCommits } from './indexer.ts';
import { importPendingRaw, ingestConfirmed, type IngestResult } from './ingest.ts';
import { historyStartOf, holdsNoEvent, newMeta } from './meta.ts';
import { backlogRange } from './page-store.ts';
import { oldestOwnPendingAt } from './pending.ts';
import { readLogPages, readSnapshotAndTail, readStreamHead, readStreamPages, type SnapshotAndTail } from './reads.ts';
import { StateCache } from './state-cache.ts';
import { toStorageError } from './storage-errors.ts';
import { createSyncControl } from './sync-control.ts';
import { eventSyncStates } from './event-states.ts';
import type { SyncCallbacks, SyncConfig, WebSocketFactory } from './sync/sync-engine.ts';
import type {
  AppendOutcome,
  AppendRequest,
  Change,
  EventSyncState,
  LogEnd,
  LogPageQuery,
  LogPageResult,
  RawPage,
  StoreStats,
  StreamQuery,
  SyncStatus,
} from './types.ts';

/** Pages indexed per transaction by the idle indexer, and by compaction when it indexes a backlog first: a run holds the index store for ~0.1-0.2 s. */
const INDEX_PAGES_PER_RUN = 50;
/** Commits whose stream entries wait, indexed per transaction by the idle indexer (~15 ms each for 600 entries). */
const LATER_COMMITS_PER_RUN = 4;
/** The operation name of the idle indexer's own runs. */
const INDEX_OPERATION = 'index';
/** Operations that read or write the log: deferred indexing waits until none has run for a while. */
const LOG_OPERATIONS = new Set([
  'append',
  'appendBatch',
  'ingest',
  'importPending',
  'readLog',
  'readStream',
  'load',
  'streamHead',
  'compact',
]);

export interface EngineOptions {
  /** The IndexedDB database name. */
  name: string;
  /** How appends commit (openStore's `durability`); default 'relaxed'. */
  appendDurability?: AppendDurability;
}

/**
 * The storage engine: owns the IndexedDB log and knows nothing of the app's
 * event types or reducers (those run in the client). Every method takes and
 * returns plain data, so the same object serves in-process callers and, via
 * comlink, the main thread from a Web Worker.
 */
export interface Engine extends Bookkeeping, ReactionStore {
  stats(): Promise<StoreStats>;
  /** Where the log ends now: events stored later lie beyond it (see core/cursor.ts). */
  logEnd(): Promise<LogEnd>;
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
  /** An aggregate's snapshot, its compaction base, and up to `maxPages` pages after the later of them, in one transaction. */
  readSnapshotAndTail(aggregateId: string, maxPages: number): Promise<SnapshotAndTail>;
  /** Compaction, read half: which of the oldest confirmed pages may go now, and the aggregates they touch (worker/compaction.ts). */
  planCompaction(policy: RetentionOptions, now: number, maxPages: number): Promise<CompactionPlan>;
  /** Compaction, write half: drops a plan's pages in one transaction, with the aggregates' bases, after checking again. */
  dropCompacted(request: DropRequest): Promise<DropResult>;
  /** The highest seq stored for an aggregate (0 when it has no events). */
  streamHead(aggregateId: string): Promise<number>;
  /** The earliest meta.occurredAt in the first pending page (the oldest pending events), or null when nothing is pending. */
  oldestPendingAt(): Promise<number | null>;
  /** Starts syncing with a server (this tab syncs while it holds the store's sync lock). */
  startSync(
    config: SyncConfig,
    callbacks?: SyncCallbacks,
    local?: { webSocket?: WebSocketFactory | undefined; fetch?: typeof fetch | undefined },
  ): Promise<void>;
  syncStatus(): Promise<SyncStatus>;
  /** One full sync round now; rejects if it fails, if sync is paused, or if another tab is the one syncing. */
  syncNow(): Promise<void>;
  pauseSync(): Promise<void>;
  resumeSync(): Promise<void>;
  /** Pending events the server refused for good (or a rebase rule dropped), kept for the app to inspect. */
  rejectedEvents(): Promise<RejectedRecord[]>;
  /** Forgets rejected events the app has dealt with (all of them without ids). */
  dismissRejected(ids?: string[]): Promise<void>;
  /** Where each of these events stands now: pending, confirmed, rejected or unknown (event-states.ts). */
  eventSyncStates(ids: string[]): Promise<EventSyncState[]>;
  /** Calls `listener` after every commit here or in another tab; returns an id for unsubscribe. */
  subscribe(listener: (change: Change) => void): number;
  /**
   * Serves the hot calls (append, appendBatch, the change feed) on `port`, for
   * a caller on the other side of a worker boundary: one message per call and
   * per change, with no comlink proxies (worker/call-port.ts).
   */
  attachPort(port: MessagePort): void;
  unsubscribe(id: number): void;
  close(): Promise<void>;
}

/** How many times an open finishes a deletion it finds begun (see clientRecord) before it gives up. */
const FINISH_DELETION_ROUNDS = 5;

/**
 * Makes sure the client record (clientId, counters) exists and returns its
 * clientId; undefined when a deleteStore marked the database for deletion
 * (MetaRecord.deleting).
 */
async function clientRecord(db: ChronicleDB): Promise<string | undefined> {
  const tx = db.transaction('meta', 'readwrite');
  let meta = await tx.store.get('client');
  if (meta?.deleting !== undefined) return undefined;
  if (!meta) {
    meta = newMeta(uuidv7());
    await tx.store.put(meta, 'client');
  }
  await tx.done;
  return meta.clientId;
}

/**
 * Wires the engine's parts together: the database connection (reopened
 * lazily when the browser or another tab's upgrade drops it), the change
 * feed, group commit, deferred indexing, sync and bookkeeping.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const { name } = options;
  let closed = false;
  /** Stops what runs on its own once the database was deleted (sync, reactions' locks, idle indexing); set once they exist. */
  let stopWork = (): void => undefined;
  const database = createDbConnection(name, () => stopWork());
  // A closing engine opens nothing more (a deleted one says so first).
  const getDb = (): Promise<ChronicleDB> => (closed && !database.deleted() ? Promise.reject(new StoreClosedError(name)) : database.get());

  const cache = new StateCache();
  // Deferred indexing waits for a quiet moment: reads and writes of the log (run) put it off.
  const idleIndexer = createIdleIndexer(async () => {
    const confirmed = await run(INDEX_OPERATION, (db) => indexBacklog(db, INDEX_PAGES_PER_RUN));
    if (confirmed > 0) return confirmed;
    const later = await run(INDEX_OPERATION, (db) => indexLaterCommits(db, LATER_COMMITS_PER_RUN));
    // Only meta moved (no head did): the cached heads stay true.
    if (later.meta) cache.committed(later.meta.after, [], later.meta.before);
    return later.left;
  });
  /** Runs a storage operation, turning IndexedDB failures into typed errors. */
  const run = async <T>(operation: string, fn: (db: ChronicleDB) => Promise<T>): Promise<T> => {
    if (LOG_OPERATIONS.has(operation)) idleIndexer.busy();
    const db = await getDb();
    try {
      // A connection the browser closed itself may leave its transactions unsettled: fail with it instead.
      return await database.whileOpen(db, fn(db));
    } catch (error) {
      // The database closed under a call because the store is closing or was deleted: say so, not "InvalidStateError".
      if (error instanceof DatabaseDeletingError) throw database.markDeleted();
      const deleted = database.deleted();
      if (deleted) throw deleted;
      if (closed) throw new StoreClosedError(name);
      throw toStorageError(name, operation, error);
    }
  };

  // Make sure the client record (clientId, counters) exists before anything reads it. Its clientId names this
  // database: a reopen that finds another one (deleted and made again by another tab) is a deleted store.
  // A database a deleteStore marked and did not delete (its page ended in between) is deleted first.
  const openClient = () => run('open', clientRecord);
  let clientId = await openClient();
  // Other tabs may be finishing the same deletion: each round finds it marked, or gone and made afresh.
  for (let round = 0; clientId === undefined && round < FINISH_DELETION_ROUNDS; round++) {
    await database.finishDeletion();
    clientId = await openClient();
  }
  if (clientId === undefined) throw new StorageError('open', `database "${name}" kept being marked for deletion while it opened`);
  database.identify(clientId);

  const sync = createSyncControl({ name, getDb, run, publish: (change) => feed.publish(change) });
  const feed = createChangeFeed(name, (change) => {
    // Another tab's commit left entries for idle time: index them here too, should that tab close first.
    if (change.kind === 'appended' && change.later) idleIndexer.schedule();
    sync.heard(change);
  });
  const { publish } = feed;
  const ports = new Set<MessagePort>();
  const appends = createGroupCommit({
    name,
    run,
    cache,
    durability: options.appendDurability ?? 'relaxed',
    written(result) {
      if (result.later) idleIndexer.schedule();
      publish({
        kind: 'appended',
        aggregates: result.moved,
        count: result.written,
        ...(result.end ? { end: result.end } : {}),
        ...(result.later ? { later: true as const } : {}),
      });
      sync.trigger();
    },
  });
  const bookkeeping = createBookkeeping(run, (projection) => publish({ kind: 'projection', name: projection }));
  const reactions = createReactionStore(name, run, publish, () => closed || database.deleted() !== undefined);
  stopWork = () => {
    // This tab's store is told first (it rejects its calls from now on), then what runs on its own stops.
    feed.tell({ kind: 'stopped', reason: 'deleted' });
    feed.silence();
    reactions.stopLeading();
    idleIndexer.stop();
    sync.stop().catch(() => undefined);
  };
  const readMeta = async (db: ChronicleDB) => {
    const meta = await db.get('meta', 'client');
    if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
    return meta;
  };

  const engine: Engine = {
    ...bookkeeping,
    ...reactions,
    stats: () =>
      run('stats', async (db) => {
        const meta = await readMeta(db);
        return {
          name,
          clientId: meta.clientId,
          pendingEvents: meta.pendingEvents,
          confirmedEvents: meta.confirmedEvents,
          confirmedHead: meta.confirmedHead,
          unindexedEvents: meta.indexedThrough === undefined ? 0 : meta.confirmedHead - meta.indexedThrough,
          deferredIndexEntries: meta.laterEntries ?? 0,
          historyStartsAt: historyStartOf(meta),
          compactedEvents: meta.compaction?.droppedEvents ?? 0,
          nextClientSeq: meta.nextClientSeq,
        };
      }),
    logEnd: () =>
      run('logEnd', async (db) => {
        const meta = await readMeta(db);
        return { confirmedHead: meta.confirmedHead, nextLsn: meta.nextLsn };
      }),
    append: (request) => appends.append(request),
    appendBatch: (requests) => appends.appendBatch(requests),
    async ingestConfirmed(events) {
      idleIndexer.busy();
      const list = typeof events === 'string' ? parseEventList(events) : events;
      if (!Array.isArray(list)) throw new ChronicleError('VALIDATION', 'importConfirmed expects an array of events');
      const result = await run('ingest', (db) => ingestConfirmed(db, list));
      idleIndexer.busy();
      idleIndexer.schedule();
      if (result.stored > 0) {
        publish({ kind: 'appended', aggregates: result.moved, count: result.stored });
        publish({ kind: 'confirmed', head: result.head, count: result.stored });
      }
      return result;
    },
    async importPending(events) {
      if (!Array.isArray(events)) throw new ChronicleError('VALIDATION', 'importPending expects an array of events');
      const result = await run('importPending', (db) => importPendingRaw(db, events));
      if (result.stored > 0) {
        publish({ kind: 'appended', aggregates: result.moved, count: result.stored, end: { confirmedHead: 0, nextLsn: result.nextLsn } });
      }
      return { stored: result.stored };
    },
    readLog: (query) => run('readLog', (db) => readLogPages(db, query)),
    readStream: (query) => run('readStream', (db) => readStreamPages(db, query)),
    readSnapshotAndTail: (aggregateId, maxPages) => run('load', (db) => readSnapshotAndTail(db, aggregateId, maxPages, cache)),
    planCompaction: (policy, now, maxPages) =>
      run('compact', async (db) => {
        // Dropped pages keep their index entries in compact form: pages a bulk ingest left unindexed are indexed first (same bounded runs as the idle indexer).
        while ((await indexBacklog(db, INDEX_PAGES_PER_RUN)) > 0) idleIndexer.busy();
        return planCompaction(db, policy, now, maxPages);
      }),
    async dropCompacted(request) {
      const result = await run('compact', (db) => dropCompacted(db, request));
      // Heads and snapshots are unchanged, but meta moved: the cache re-reads.
      if (result.pages > 0) cache.forget();
      return result;
    },
    streamHead: (aggregateId) => run('streamHead', (db) => readStreamHead(db, aggregateId)),
    oldestPendingAt: () => run('oldestPendingAt', (db) => oldestOwnPendingAt(db)),
    startSync: (config, callbacks, local) => sync.start(config, callbacks, local),
    syncStatus: () => sync.status(),
    syncNow: () => sync.syncNow(),
    pauseSync: () => sync.pause(),
    resumeSync: () => sync.resume(),
    rejectedEvents: () => sync.rejectedEvents(),
    dismissRejected: (ids) => sync.dismissRejected(ids),
    eventSyncStates: (ids) => run('eventSyncStates', (db) => eventSyncStates(db, ids)),
    subscribe: (listener) => feed.subscribe(listener),
    attachPort(port) {
      ports.add(port);
      serveCalls(port, {
        append: (request) => appends.append(request),
        appendBatch: (requests) => appends.appendBatch(requests),
        readSnapshotAndTail: (aggregateId, maxPages) => engine.readSnapshotAndTail(aggregateId, maxPages),
        readLog: (query) => engine.readLog(query),
        subscribe: (listener) => feed.subscribe(listener),
        unsubscribe: (id) => feed.unsubscribe(id),
      });
    },
    unsubscribe: (id) => feed.unsubscribe(id),
    async close() {
      if (closed) return;
      // Let appends already accepted finish before the connection goes.
      await appends.drain();
      await sync.stop();
      closed = true;
      reactions.stopLeading();
      idleIndexer.stop();
      feed.close();
      for (const port of ports) port.close();
      await database.close();
    },
  };
  // A bulk ingest or appendBatch of an earlier session may have left entries to index.
  const meta = await run('open', (db) => db.get('meta', 'client'));
  if (meta && (backlogRange(meta) || meta.laterFrom !== undefined)) idleIndexer.schedule();
  // A log with no event yet: every head is 0, so the first appends need not read any (the cache checks meta before trusting it).
  if (meta && holdsNoEvent(meta)) cache.observe(meta, [], true);
  return engine;
}

/** importConfirmed's JSON form: a JSON array of events, or a typed refusal (never JSON.parse's SyntaxError). */
function parseEventList(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new ChronicleError('VALIDATION', `importConfirmed was given a string that is not JSON: ${(error as Error).message}`, {
      path: 'events',
    });
  }
}
