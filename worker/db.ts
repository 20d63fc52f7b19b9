import { openDB, type DBSchema, type IDBPDatabase, type IDBPObjectStore } from 'idb';
import { StorageBlockedError, StorageClosedError } from '../src/core/errors.ts';
import type { ForeignPending } from '../src/core/unfinished-work.ts';
import { PENDING, type LogCursor, type LogEnd, type PageKey } from './types.ts';

/**
 * IndexedDB layout.
 *
 * `pages` holds the log. One record holds many events (a JSON array string):
 * IndexedDB's cost is per record and per transaction, not per byte, so an
 * append or an ingested sync page is one record, not one per event.
 *   key [0, firstPosition]  confirmed pages, in server position order
 *   key [1, lsn]            pending (local) pages, in local append order
 * so walking the store in key order is exactly the log order of invariant 5.
 *
 * Two multiEntry indexes, `stream` and `id`, make pages findable without a
 * row per event. Their entries live in two places:
 *   - confirmed pages: in `pageIndex`, a record per page under the page's key
 *     (written when the engine is idle after a bulk ingest, so a log scan
 *     never reads them);
 *   - pending pages: once per commit (one append transaction). A commit of
 *     one page carries its entries in the page record itself, so a single
 *     append is one put; a commit of several pages has one record in
 *     `pageIndex`, under its first page's key, with the entries of all its
 *     pages (`last`, `at` say which pages), so an append of 1,000 events over
 *     4 pages writes one entry per aggregate it touches, not one per page
 *     and aggregate.
 * The entries:
 *   stream: [aggregateId, highest seq of that aggregate in the page or commit];
 *           the last entry of an aggregate is its head, and the first entry
 *           >= [id, s] is the page (or commit) holding seq s.
 *   id:     event ids that a local append could repeat (all pending events and
 *           this client's confirmed ones), for idempotent appends: an id as
 *           itself, or, for many time-ordered ids (UUIDv7) at once, their runs
 *           [lowest, highest] (see id-keys.ts).
 *
 * Version 4 added the reactions' bookkeeping: `reactions` (one checkpoint per
 * reaction), `processed` (the ProcessedEvent records, keyed [reaction, event
 * id]) and `parked` (events a reaction gave up on, same key).
 * Version 5 indexes pending pages per commit (above): indexes `stream` and
 * `id` on `pages`, and the pending pages' records in `pageIndex` moved into
 * the pages, so what `pageIndex` holds under a pending key is a commit's.
 * Version 6 added compaction (worker/compaction.ts): `bases`, one snapshot per
 * aggregate at exactly the last seq compaction dropped (written only by
 * compaction, never deleted by a rebase: it covers confirmed events only),
 * and in `pageIndex`, under keys [DROPPED, first position], the records of
 * dropped pages (stream heads, and this client's event ids exactly).
 *
 * A local append that touches many aggregates (appendBatch) writes its
 * commit's `stream` entries later: IndexedDB pays per index entry, and 635
 * entries cost a 1,000-event appendBatch more than its pages do. Its commit
 * record carries them as JSON in `later` (not indexed) and meta.laterFrom
 * says from which lsn such records may exist; readers add them to what the
 * index says (later-index.ts), and the engine moves them into `stream` when
 * it is idle (indexer.ts). Version 7 marks that: it adds no store, but an
 * engine of version 6 would not see those entries and could give a seq
 * twice, so it must not open such a database (IndexedDB refuses it a newer
 * version).
 */
export const DB_VERSION = 7;

/** An `id` index entry: one id, or a run of time-ordered ids [lowest, highest] (id-keys.ts). */
export type IdKey = string | [string, string];

/**
 * A page of the log: its events as one JSON array string, plus, on a pending
 * page that is a commit of its own (or was rewritten), its index entries.
 */
export interface PageRecord {
  /** JSON array of StoredEvent, in log order. */
  json: string;
  count: number;
  /** Smallest and largest meta.occurredAt in the page, for time-range scans. */
  t0: number;
  t1: number;
  /** The page's own key: written by earlier versions, no longer read or written. */
  k?: PageKey;
  /** Pending pages only: the `stream` entries of this page. */
  stream?: [string, number][];
  /** Pending pages only: the `id` entries of this page. */
  id?: IdKey[];
  /**
   * Pending pages written again with fewer events (some confirmed, dropped by
   * a rebase or refused by the server): each event's index as the page was
   * first written, so cursors taken before keep naming the same events
   * (core/cursor.ts: slotOf). Absent: 0, 1, 2, ... (every other page, and
   * pages rewritten before slots were kept: no schema change needed).
   */
  slots?: number[];
}

/**
 * Index entries kept apart from the pages, so a log scan never reads them:
 * - under a confirmed page's key, that page's (a page ingested from the
 *   server gets its record a little later: see MetaRecord.indexedThrough);
 * - under a pending key, a commit's of several pages: the pages [key, last],
 *   an aggregate's events on the pages `at` says. It stays while any of its
 *   pages does; entries of events confirmed meanwhile are left in (readers
 *   check what pages hold, and a confirmed event keeps its seq).
 */
export interface PageIndexRecord {
  stream: [string, number][];
  id: IdKey[];
  /** A commit's record: the lsn of its last page. */
  last?: number;
  /** A commit's record: per `stream` entry, the lsns [first, last] of the pages holding that aggregate's events. */
  at?: [number, number][];
  /** A dropped pages' record (key [DROPPED, n]): this client's ids among them, sorted, exactly (the runs in `id` only say where to look). */
  dropped?: string[];
  /**
   * A pending commit's `stream` and `at` not indexed yet, as JSON of
   * [aggregateId, highest seq, first lsn, last lsn][] (`stream` is empty
   * meanwhile). See MetaRecord.laterFrom.
   */
  later?: string;
}

/** What compaction dropped so far (absent: nothing). */
export interface CompactionMeta {
  /** The first confirmed position still stored. */
  historyStartsAt: number;
  droppedEvents: number;
  droppedPages: number;
  /** Estimated bytes dropped (the pages' JSON length). */
  droppedBytes: number;
  /** The oldest and newest occurredAt among dropped events. */
  t0: number;
  t1: number;
}

export interface MetaRecord {
  clientId: string;
  /**
   * Set (epoch ms) by deleteStore in the transaction that found nothing
   * unfinished, just before it deletes the database: from then on no append
   * commits here. A store that opens and finds it set (the deleting page
   * ended in between) finishes the deletion first.
   */
  deleting?: number;
  /** Next clientSeq to assign; gapless across tabs because it is read and written in the append transaction. */
  nextClientSeq: number;
  /** Next pending page number; never reused, so a cursor into the pending area stays meaningful. */
  nextLsn: number;
  pendingEvents: number;
  confirmedEvents: number;
  /**
   * The length of the confirmed pages' JSON (what retention's maxBytes
   * limits): ingest adds, compaction subtracts. Absent in a store that held
   * confirmed events before it was kept: compaction then estimates it from
   * the oldest pages once, and counts exactly from there.
   */
  confirmedBytes?: number;
  /** Highest server position stored. */
  confirmedHead: number;
  /**
   * The id of the event at confirmedHead (set by every ingest since it was
   * added): a sync round checks the server still holds it (sync/server-history.ts),
   * also once compaction dropped its page.
   */
  confirmedHeadId?: string;
  /**
   * Bumped by every transaction that writes pages (in any tab). An engine that
   * cached stream heads at generation G may trust them while it still reads G.
   */
  generation?: number;
  /**
   * Bumped when pending events are dropped or rewritten other than by their
   * confirmation: a rebase, a rejection, a renumbering (rewritePendingPages).
   * A projection's pending layer folded before such a bump is stale.
   */
  pendingRewrites?: number;
  /**
   * Confirmed pages up to this position have their PageIndexRecord. Bulk ingest
   * (a sync pull) stores pages first and indexes them when the engine is idle;
   * until then readers of stream heads and streams also parse the pages after
   * this position. Absent = everything is indexed.
   */
  indexedThrough?: number;
  /**
   * Pending commit records from this lsn on may hold `stream` entries not
   * indexed yet (PageIndexRecord.later). Absent = none do.
   */
  laterFrom?: number;
  /** How many such entries wait (an upper bound: a commit confirmed meanwhile takes its own with it). */
  laterEntries?: number;
  /**
   * How many pending events are other clients' (importLog of another device's export; counted in
   * pendingEvents too): copies of that device's edits, which this store never pushes, renumbers, rebases
   * or rejects, and which leave the pending area when a pull brings them confirmed (or another event
   * at their seq: worker/ingest.ts). Exact while `rewrites` equals pendingRewrites (see
   * core/unfinished-work.ts, foreignPendingCount). Absent = none counted: the common case costs a pull
   * nothing. An older build's importLog stores such events without counting them: those are treated as
   * that build treated them (as own), and its rewrites leave the count unknown until a pull counts again.
   */
  foreignPending?: ForeignPending;
  /** Compaction's progress: where local confirmed history starts. Absent = nothing was dropped. */
  compaction?: CompactionMeta;
}

export interface SnapshotRecord {
  aggregateId: string;
  aggregateType: string;
  reducerVersion: number;
  /** The aggregate version (seq) the state includes. */
  seq: number;
  /**
   * The state as JSON when it is plain JSON data (one string crosses IndexedDB
   * and the worker boundary far faster than an object graph); otherwise the
   * state itself, structured-cloned (Map, Set, Date...).
   */
  stateJson?: string;
  state?: unknown;
  takenAt: number;
}

/**
 * A projection's stored state, in two parts. `state`/`cursor` cover confirmed
 * events only (area 0): they advance exactly once per event, in position
 * order, and never move back. `pending` is that state with the pending events
 * folded on top; it is derived, so when confirmed events arrive (which may
 * reorder or re-sequence pending ones) it is dropped and folded again.
 */
export interface ProjectionRecord {
  name: string;
  version: number;
  state: unknown;
  /** The last confirmed event applied; null before the first. */
  cursor: LogCursor | null;
  applied: number;
  /**
   * `rewrites`: the log's pendingRewrites when the layer was folded (absent: 0). `slots`: its cursor's index
   * is a slot (core/cursor.ts: slotOf), as this version makes them; a layer without it (folded by an older
   * build, whose index counted the events a rewritten page held) is folded again. `theirs`: ids of other
   * clients' events the layer folded (another device's, importLog brought in as pending): their confirmed
   * fold is a replay (absent: none, as in every store that never imported another device's events).
   */
  pending: {
    state: unknown;
    cursor: LogCursor | null;
    applied: number;
    rewrites?: number;
    slots?: true;
    theirs?: string[];
  } | null;
  /**
   * The `pending.theirs` of layers dropped since (confirmed events arrived, or pending events were rewritten)
   * whose confirmed copy is not folded yet: each id leaves when it is, as a replay. Ids of events that left
   * the pending area unconfirmed (another event took their seq) stay, as their device may push them later,
   * up to the newest MAX_THEIRS_FOLDED (src/client/projection-runner.ts). Absent: none. Older builds ignore
   * both fields (their folds keep or drop them unchanged: those events are folded as those builds fold them).
   */
  theirsFolded?: string[];
  updatedAt: number;
}

/** What a projection commit expects to find stored (compare-and-set). */
export interface ProjectionStamp {
  cursor: LogCursor | null;
  pendingCursor: LogCursor | null;
}

export interface JobRecord {
  name: string;
  /** A fingerprint of what the job covers; a changed job restarts from scratch. */
  shape: string;
  /** The last confirmed place looked at (older versions also stored pending places: a job resumed from one keeps it). */
  cursor: LogCursor | null;
  /**
   * Ids of pending events handled past `cursor`: sync moves and renumbers
   * pending events, so a rerun recognises them by id, confirmed or not
   * (src/client/replay.ts). Absent in records of older versions.
   */
  handledPending?: string[];
  processed: number;
  scanned: number;
  status: 'running' | 'done';
  /**
   * True when the job stopped cleanly (closed, aborted, a handler threw) and
   * `cursor` is exactly the last event handled. False or absent: a periodic
   * checkpoint, after which up to `checkpointEvery` events may have been
   * handled before a crash; a resumed job flags them as redeliveries.
   */
  clean?: boolean;
  checkpointEvery?: number;
  updatedAt: number;
}

/** A pending event the sync could not deliver: kept, with the reason, so nothing is lost silently. */
export interface RejectedRecord {
  id: string;
  event: import('../src/core/event.ts').StoredEvent;
  reason: string;
  code: string;
  rejectedAt: number;
}

/** The app's sync pause (store.sync.pause / resume), kept for every tab and reload (key 'control' of the sync store). */
export interface SyncControlRecord {
  paused: boolean;
  /** When it was set (epoch ms). */
  at: number;
}

/**
 * Written when a store starts sync with `sync.encryption` (key 'encryption'),
 * and never removed: its pending events were written for an encrypted log, so
 * a later start without the encryption settings (a build without the key
 * setup, another tab's older build) must not push them in plaintext.
 */
export interface SyncEncryptionRecord {
  /** The log it synced with encryption. */
  log: string;
  /** When it first did (epoch ms). */
  since: number;
}

/**
 * Key 'log' of the sync store: the log this store syncs, written by the first
 * start of sync (of a build that keeps it) and never changed. Its events,
 * pending ones included, belong to that log: a start with another log is
 * refused rather than push them into it (another tenant's log) or read that
 * log's history as this one's.
 */
export interface SyncLogRecord {
  log: string;
  /** When it was first synced (epoch ms). */
  since: number;
}

/** Key 'flushed' of the sync store: the write of worker/durability.ts's flushToDisk, before each push. */
export interface SyncFlushRecord {
  /** When (epoch ms). */
  at: number;
}

/** Sync bookkeeping that must survive reloads. */
export interface SyncRecord {
  /** The highest position the server reported as its head. */
  serverHead: number;
  lastSyncAt: number | null;
  lastError: { code: string; message: string } | null;
}

/**
 * A reaction's checkpoint (see src/client/reactions.ts). Written in the same
 * transaction as the processed or parked record of the event that moved it.
 */
export interface ReactionRecord {
  name: string;
  on: 'local' | 'confirmed';
  /** Confirmed events up to this position are done with (handled, parked, or not for this reaction). */
  confirmed: number;
  /** Pending pages before this lsn are done with; later pages are checked against `processed`. */
  pendingLsn: number;
  /**
   * Events stored up to here are history, delivered with isReplay (startFrom: 'beginning'); null when none is.
   * `nextClientSeq` (absent in records made before it was kept): this client's events numbered below it were
   * stored before too, pending then, wherever the server has since confirmed them (a position past confirmedHead).
   */
  historyEnd: (LogEnd & { nextClientSeq?: number }) | null;
  /** The event being delivered: after a crash it is delivered again, flagged as a redelivery. */
  inFlight: { eventId: string; attempts: number; lastError: string | null } | null;
  /**
   * Events that were in flight when a crash stopped their delivery, and that a
   * later delivery of another event took the marker from (after a crash the
   * next leader may meet other events first, e.g. ones a sync pulled in): each
   * is flagged as a redelivery when it comes, then dropped from the list.
   */
  interrupted?: string[];
  startedAt: number;
  updatedAt: number;
  /**
   * Set by store.forget(): the app no longer runs this reaction. The record
   * stays only so that registering the name again starts from then, like a
   * new reaction with startFrom 'now' (never from the beginning: events
   * stored before may have had their effect already). It holds nothing back.
   */
  forgottenAt?: number;
}

/** One event a reaction has finished with: the ProcessedEvent pattern. */
export interface ProcessedRecord {
  reaction: string;
  eventId: string;
  /** done: handled; skipped: parked, then skipped by the app; before-start: stored before the reaction began. */
  outcome: 'done' | 'skipped' | 'before-start';
  at: number;
}

/** An event a reaction failed on `attempts` times: set aside until the app retries or skips it. */
export interface ParkedRecord {
  reaction: string;
  eventId: string;
  event: import('../src/core/event.ts').StoredEvent;
  attempts: number;
  lastError: string;
  parkedAt: number;
  /** The app asked for another try; the tab running reactions picks it up. */
  retry: boolean;
  /**
   * When the tab running reactions started that try's handler (epoch ms); absent
   * until it does, and again once the try has failed. While it is set, skip is
   * refused: the handler may be charging the card.
   */
  retrying?: number;
  /** retry() was asked again while that try's handler ran: if the try fails, the event is tried once more. */
  askedAgain?: true;
}

export interface ChronicleSchema extends DBSchema {
  pages: { key: PageKey; value: PageRecord; indexes: { stream: [string, number]; id: string } };
  pageIndex: {
    key: PageKey;
    value: PageIndexRecord;
    indexes: { stream: [string, number]; id: string };
  };
  meta: { key: string; value: MetaRecord };
  snapshots: { key: string; value: SnapshotRecord };
  projections: { key: string; value: ProjectionRecord };
  jobs: { key: string; value: JobRecord };
  rejected: { key: string; value: RejectedRecord };
  /** 'state': SyncRecord; 'control': SyncControlRecord; 'encryption': SyncEncryptionRecord; 'log': SyncLogRecord; 'flushed': SyncFlushRecord. */
  sync: { key: string; value: SyncRecord | SyncControlRecord | SyncEncryptionRecord | SyncLogRecord | SyncFlushRecord };
  reactions: { key: string; value: ReactionRecord };
  processed: { key: [string, string]; value: ProcessedRecord };
  parked: { key: [string, string]; value: ParkedRecord };
  bases: { key: string; value: SnapshotRecord };
}

export type ChronicleDB = IDBPDatabase<ChronicleSchema>;

export interface OpenHooks {
  /** The connection went away (another tab upgrades, or the browser closed it). */
  onGone(reason: string): void;
  /** The database is being deleted (indexedDB.deleteDatabase, in this or another tab); default: onGone. */
  onDeleted?(): void;
  /**
   * The browser closed the connection itself (the site's data cleared, a
   * disk error): transactions in flight on it may never settle. Default: onGone.
   */
  onForcedClose?(): void;
}

/** An append found the database being deleted (MetaRecord.deleting): nothing of it was written. */
export class DatabaseDeletingError extends Error {
  constructor() {
    super('the database is being deleted');
  }
}

/**
 * A write that read `meta` in its transaction `tx` refuses a database
 * deleteStore marked (MetaRecord.deleting): the transaction is aborted,
 * nothing of it lands, and the write fails with DatabaseDeletingError.
 */
export async function refuseIfDeleting(tx: { abort(): void; done: Promise<void> }, meta: MetaRecord | undefined): Promise<void> {
  if (meta?.deleting === undefined) return;
  tx.abort();
  await tx.done.catch(() => undefined);
  throw new DatabaseDeletingError();
}

/** The database an engine reopens is not there any more (deleted, or the browser cleared the site's data). */
export class DatabaseGoneError extends Error {
  constructor(readonly database: string) {
    super(`database "${database}" no longer exists`);
  }
}

/**
 * Opens (or creates, and upgrades) the store's database. `mustExist`: a
 * reopen of a database this engine had open; if it is gone, it is not made
 * again empty (the upgrade is aborted, so no database is left) and the open
 * fails with DatabaseGoneError.
 */
export async function openChronicleDb(name: string, hooks: OpenHooks, mustExist = false): Promise<ChronicleDB> {
  let blocked = false;
  let gone = false;
  const opening = openDB<ChronicleSchema>(name, DB_VERSION, {
    async upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion === 0 && mustExist) {
        gone = true;
        // The open fails with the abort (DatabaseGoneError below); the transaction's own promise must not go unheard.
        transaction.done.catch(() => undefined);
        transaction.abort();
        return;
      }
      if (oldVersion < 1) {
        db.createObjectStore('pages');
        db.createObjectStore('meta');
        db.createObjectStore('snapshots');
        db.createObjectStore('projections');
        db.createObjectStore('jobs');
      }
      if (oldVersion < 2) {
        db.createObjectStore('rejected');
        db.createObjectStore('sync');
      }
      if (oldVersion < 3) {
        const pageIndex = db.createObjectStore('pageIndex');
        pageIndex.createIndex('stream', 'stream', { multiEntry: true });
        pageIndex.createIndex('id', 'id', { multiEntry: true });
        if (oldVersion >= 1) {
          // Version 1-2 kept the index fields on the page itself: move them out.
          const pages = transaction.objectStore('pages') as unknown as IDBPObjectStore<
            ChronicleSchema,
            ['pages'],
            'pages',
            'versionchange'
          >;
          for (const name of ['stream', 'id']) {
            if ((pages.indexNames as DOMStringList).contains(name))
              (pages as unknown as { deleteIndex(n: string): void }).deleteIndex(name);
          }
          let cursor = await pages.openCursor();
          while (cursor) {
            const old = cursor.value as PageRecord & Partial<PageIndexRecord>;
            await transaction.objectStore('pageIndex').put({ stream: old.stream ?? [], id: old.id ?? [] }, cursor.key);
            await cursor.update({ json: old.json, count: old.count, t0: old.t0, t1: old.t1 });
            cursor = await cursor.continue();
          }
        }
      }
      if (oldVersion < 4) {
        db.createObjectStore('reactions');
        db.createObjectStore('processed');
        db.createObjectStore('parked');
      }
      if (oldVersion < 6) {
        db.createObjectStore('bases');
      }
      if (oldVersion < 5) {
        const pages = transaction.objectStore('pages');
        pages.createIndex('stream', 'stream', { multiEntry: true });
        pages.createIndex('id', 'id', { multiEntry: true });
        if (oldVersion >= 1) {
          // Pending pages' index records move into the pages (confirmed ones stay in pageIndex).
          const pageIndex = transaction.objectStore('pageIndex');
          let cursor = await pageIndex.openCursor(IDBKeyRange.bound([PENDING, -Infinity], [PENDING, Infinity]));
          while (cursor) {
            const page = await pages.get(cursor.key);
            if (page) await pages.put({ ...page, stream: cursor.value.stream, id: cursor.value.id }, cursor.key);
            await cursor.delete();
            cursor = await cursor.continue();
          }
        }
      }
    },
    blocked() {
      blocked = true;
    },
    blocking(_currentVersion, blockedVersion) {
      // No version asked for: the database is being deleted. Else another tab wants a newer schema: step aside,
      // reopen lazily later.
      if (blockedVersion === null) (hooks.onDeleted ?? (() => hooks.onGone('the database is being deleted')))();
      else hooks.onGone('another tab is upgrading the database');
    },
    terminated() {
      (hooks.onForcedClose ?? (() => hooks.onGone('the browser closed the database')))();
    },
  });
  // An upgrade waiting on another tab would hang forever: surface it instead.
  const blockedCheck = new Promise<never>((_, reject) => {
    const timer = setInterval(() => {
      if (blocked) {
        clearInterval(timer);
        opening.then(
          (db) => db.close(),
          () => undefined,
        );
        reject(new StorageBlockedError(name));
      }
    }, 50);
    opening.finally(() => clearInterval(timer)).catch(() => undefined);
  });
  try {
    return await Promise.race([opening, blockedCheck]);
  } catch (error) {
    if (error instanceof StorageBlockedError) throw error;
    if (gone) throw new DatabaseGoneError(name);
    const e = error as { name?: string; message?: string };
    throw new StorageClosedError(name, `could not open: ${e.name ?? 'Error'}: ${e.message ?? String(error)}`);
  }
}
