import type { ExpectedVersion } from '../src/core/errors.ts';
import type { LogCursor, LogEnd } from '../src/core/cursor.ts';
import type { EncodedEvent } from '../src/core/registry.ts';

/** [area, n]: area 0 = confirmed (n = first position), 1 = pending (n = lsn). */
export type PageKey = [number, number];
export const CONFIRMED = 0;
export const PENDING = 1;
/**
 * In `pageIndex` only: what compaction keeps of dropped confirmed pages (their
 * stream heads and this client's event ids), keyed [2, first dropped position].
 * No page ever has this area.
 */
export const DROPPED = 2;

/** Places in the log are a core notion (devtools and the client order them too). */
export type { LogCursor, LogEnd } from '../src/core/cursor.ts';

export interface AppendRequest {
  aggregateId: string;
  aggregateType: string;
  expectedVersion: ExpectedVersion;
  events: EncodedEvent[];
}

export interface AppendOutcome {
  aggregateId: string;
  /** The stream version after this call: pass it as expectedVersion next time. */
  nextExpectedVersion: number;
  createdNewStream: boolean;
  /** Ids that were already stored: acknowledged, not stored again. */
  duplicates: string[];
  /**
   * Where this call's new events went: the first took seq `firstSeq` and
   * clientSeq `firstClientSeq`, stored by client `clientId`; each next one
   * the numbers after (0 when none was new). With what it sent, the caller
   * knows every new event's stored form: nothing of them is sent back.
   */
  firstSeq: number;
  firstClientSeq: number;
  clientId: string;
  /**
   * The stored events of this call, new and repeated, as a JSON array, when
   * some were stored before (their stored form is not what was sent).
   */
  eventsJson?: string;
}

/** A page as handed to readers: its key and its events' JSON. */
export interface RawPage {
  area: number;
  page: number;
  json: string;
  count: number;
  /** A pending page that lost events: each event's index as the page was first written (core/cursor.ts: slotOf). */
  slots?: number[];
}

export interface LogPageQuery {
  /** Start after this event; null or absent = from the beginning. */
  after?: LogCursor | null | undefined;
  /** Only confirmed events with position >= this (skips earlier pages). */
  fromPosition?: number | undefined;
  /** Only pages with events at or after this time (page-level skip). */
  fromTime?: number | undefined;
  toTime?: number | undefined;
  /** Stop after about this many events. */
  maxEvents?: number | undefined;
  /**
   * Only confirmed pages: the read stops where the pending ones begin instead
   * of reading them (a device offline for a day holds thousands).
   */
  confirmedOnly?: boolean | undefined;
}

export interface LogPageResult {
  pages: RawPage[];
  /** True when no page after the last returned one exists now. */
  end: boolean;
  /** The first confirmed position stored (1 unless compaction dropped history before it). */
  historyStartsAt: number;
  /** The oldest and newest meta.occurredAt among the events compaction dropped (absent: none). */
  droppedTimes?: [number, number];
}

export interface StreamQuery {
  aggregateId: string;
  fromSeq: number;
  toSeq: number;
  /** At most this many pages per call. */
  maxPages?: number;
  backwards?: boolean | undefined;
  /**
   * When some of fromSeq..toSeq was compacted away: true = return what is
   * kept; false or absent = throw HistoryCompactedError.
   */
  keptOnly?: boolean | undefined;
}

export interface StoreStats {
  name: string;
  clientId: string;
  pendingEvents: number;
  confirmedEvents: number;
  confirmedHead: number;
  /** Confirmed events stored but not yet in the stream/id indexes (indexed when the engine is idle). */
  unindexedEvents: number;
  /**
   * Stream index entries of large local appends (appendBatch over many
   * aggregates) written later, when the engine is idle; readers find those
   * events meanwhile. An upper bound.
   */
  deferredIndexEntries: number;
  /**
   * The first confirmed position still stored on this device: 1 until
   * compaction drops confirmed history (the server keeps all of it).
   */
  historyStartsAt: number;
  /** Confirmed events compaction has dropped from this device, in total. */
  compactedEvents: number;
  /** The clientSeq this client's next event takes: its events numbered below it are stored already. */
  nextClientSeq: number;
}

/** Where sync stands, as every tab sees it. */
export interface SyncStatus {
  /**
   * disabled: no sync configured; standby: another tab syncs for this store;
   * offline: the server cannot be reached; online: idle and caught up;
   * syncing: pushing or pulling; paused: stopped by the app; error: the
   * server refuses (auth, protocol) and sync retries with backoff.
   */
  state: 'disabled' | 'standby' | 'offline' | 'online' | 'syncing' | 'paused' | 'error';
  /** Whether this tab holds the sync lock. */
  leader: boolean;
  pending: number;
  /** The highest server position stored locally. */
  confirmedPosition: number;
  /** The server's head as last heard. */
  serverHead: number;
  lastSyncAt: number | null;
  lastError: { code: string; message: string } | null;
  /** During a long pull: events stored so far, and the head being caught up to. */
  progress: { pulled: number; target: number } | null;
  /**
   * When this client last held everything the server had (a pull that reached
   * the server's head), in this session; absent before that (see lastSyncAt).
   */
  caughtUpAt?: number;
}

/** A sync status before anything is known: the one starting point of the engine and of tabs that do not sync. */
export function initialSyncStatus(state: SyncStatus['state']): SyncStatus {
  return { state, leader: false, pending: 0, confirmedPosition: 0, serverHead: 0, lastSyncAt: null, lastError: null, progress: null };
}

/**
 * Where one of this client's events stands now (sync.outcomeOf), read from
 * what is stored: what onOutcome told, or will tell, about it.
 */
export interface EventSyncState {
  id: string;
  /**
   * pending: not in the server's log yet (a rebase may have moved it: seq is its seq now); confirmed: in the
   * server's log; rejected: in sync.rejected(); unknown: not stored here (never appended by this store,
   * another device's event, or a rejected one the app dismissed).
   */
  status: 'pending' | 'confirmed' | 'rejected' | 'unknown';
  /** pending / confirmed: its stream and seq now (absent for a confirmed event compaction dropped). */
  aggregateId?: string | undefined;
  type?: string | undefined;
  seq?: number | undefined;
  /** confirmed: its server position (absent once compaction dropped it). */
  position?: number | undefined;
  /** rejected: why. */
  reason?: string | undefined;
}

/** What became of one of this client's pending events. */
export interface EventOutcome {
  id: string;
  aggregateId: string;
  /** The event's type, so an app can say which edit it was. */
  type: string;
  status: 'confirmed' | 'rebased' | 'rejected';
  /** confirmed: its server position. */
  position?: number | undefined;
  /** confirmed / rebased: its seq now; rebased: previousSeq is the one it had. */
  seq?: number | undefined;
  previousSeq?: number | undefined;
  /** rejected: why (it is kept in the rejected list). */
  reason?: string | undefined;
}

/** What an engine tells subscribers after a commit, in this tab or another. */
export type Change =
  /**
   * `end`: the log end after the commit, when the writer knows it (subscriptions start from the newest end heard).
   * `later`: the commit left stream index entries for idle time (later-index.ts); any tab's engine may index them.
   */
  | { kind: 'appended'; aggregates: [string, number][]; count: number; end?: LogEnd; later?: true }
  | { kind: 'confirmed'; head: number; count: number }
  | { kind: 'rebased'; aggregates: string[] }
  | { kind: 'projection'; name: string }
  | { kind: 'sync'; status: SyncStatus }
  | { kind: 'outcomes'; outcomes: EventOutcome[] }
  /** Pause or resume sync for the store, whichever tab holds the sync lock. */
  | { kind: 'syncControl'; paused: boolean }
  /** A reaction's bookkeeping changed (delivered, failed, parked, skipped); `retry`: the app asked to retry a parked event. */
  | { kind: 'reactions'; name: string; retry?: boolean }
  /** Every aggregate subscription loads its aggregate again: which ones a commit touched is not known (a tab took the sync lock over from one that may have died). */
  | { kind: 'reset' }
  /** This engine stopped on its own (its database was deleted under it); told to this engine's own listeners only. */
  | { kind: 'stopped'; reason: 'deleted' };
