import type { ExpectedVersion } from '../src/core/errors.ts';
import type { EncodedEvent } from '../src/core/registry.ts';

/** [area, n]: area 0 = confirmed (n = first position), 1 = pending (n = lsn). */
export type PageKey = [number, number];
export const CONFIRMED = 0;
export const PENDING = 1;

/** The place of one event in the log: its page and its index within the page. */
export interface LogCursor {
  area: number;
  page: number;
  index: number;
}

export interface AppendRequest {
  aggregateId: string;
  aggregateType: string;
  expectedVersion: ExpectedVersion;
  events: EncodedEvent[];
}

export interface AppendOutcome {
  aggregateId: string;
  /** JSON array of the stored events of this call, new and duplicate, in the order given. */
  eventsJson: string;
  /** The stream version after this call: pass it as expectedVersion next time. */
  nextExpectedVersion: number;
  createdNewStream: boolean;
  /** Ids that were already stored: acknowledged, not stored again. */
  duplicates: string[];
}

/** A page as handed to readers: its key and its events' JSON. */
export interface RawPage {
  area: number;
  page: number;
  json: string;
  count: number;
}

export interface LogPageQuery {
  /** Start after this event; null or absent = from the beginning. */
  after?: LogCursor | null;
  /** Only confirmed events with position >= this (skips earlier pages). */
  fromPosition?: number;
  /** Only pages with events at or after this time (page-level skip). */
  fromTime?: number;
  toTime?: number;
  /** Stop after about this many events. */
  maxEvents?: number;
}

export interface LogPageResult {
  pages: RawPage[];
  /** True when no page after the last returned one exists now. */
  end: boolean;
}

export interface StreamQuery {
  aggregateId: string;
  fromSeq: number;
  toSeq: number;
  /** At most this many pages per call. */
  maxPages?: number;
  backwards?: boolean;
}

export interface StoreStats {
  name: string;
  clientId: string;
  pendingEvents: number;
  confirmedEvents: number;
  confirmedHead: number;
}

/** What an engine tells subscribers after a commit, in this tab or another. */
export type Change =
  | { kind: 'appended'; aggregates: [string, number][]; count: number }
  | { kind: 'confirmed'; head: number; count: number }
  | { kind: 'projection'; name: string }
  | { kind: 'reset' };
