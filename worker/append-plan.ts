import {
  ConcurrencyError,
  DuplicateInBatchError,
  EventIdConflictError,
  HistoryCompactedError,
  type ExpectedVersion,
} from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { EncodedEvent } from '../src/core/registry.ts';
import type { MetaRecord } from './db.ts';
import { historyStartOf } from './meta.ts';
import { spliceEventJson, type PageEntry } from './page-builder.ts';
import type { AppendOutcome, AppendRequest, LogEnd } from './types.ts';

/**
 * The decisions of an append, with no I/O: given the heads, the counters and
 * the events already stored under the ids asked for, which requests commit,
 * with which seqs, and which are refused (worker/append.ts reads and writes).
 */

export interface AppendGroupResult {
  /** Per request: its outcome or the error that refused it (nothing of it was written). */
  outcomes: (AppendOutcome | Error)[];
  /** Aggregates whose heads moved, with their new heads. */
  moved: [string, number][];
  written: number;
  /** The log end after the commit (subscriptions started later begin there). */
  end?: LogEnd;
  /** Stream index entries the commit left for later (the engine indexes them when idle). */
  later?: number;
}

export function versionMatches(expected: ExpectedVersion, head: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return head === 0;
  return expected === head;
}

export interface GroupPlan {
  entries: PageEntry[];
  result: AppendGroupResult;
}

/** An event this group may repeat: stored already, or planned by an earlier request of the group. */
interface KnownEvent {
  aggregateId: string;
  type: string;
  version: number;
  /** The event as reported back (stored JSON). */
  json: string;
  /** Its data as JSON, computed only when a repeat must be compared. */
  dataJson(): string;
  /** Planned in this group, not stored before it. */
  planned: boolean;
}

function knownFromStored(stored: StoredEvent): KnownEvent {
  return {
    aggregateId: stored.aggregateId,
    type: stored.type,
    version: stored.version,
    json: JSON.stringify(stored),
    dataJson: () => JSON.stringify(stored.data),
    planned: false,
  };
}

/** Type, version and data of an encoded event (its body is `"type",version,data,occurredAt`). */
function contentOf(event: EncodedEvent): { type: string; version: number; dataJson: string } {
  const [type, version, data] = JSON.parse(`[${event.body}]`) as [string, number, unknown];
  return { type, version, dataJson: JSON.stringify(data) };
}

/**
 * Whether `event`, whose id is already known, is that same event again (a
 * retry) or a different event reusing the id. Content is type and data: the
 * time an event occurred is taken afresh by a retried call.
 */
function repeatOf(event: EncodedEvent, aggregateId: string, known: KnownEvent): Error | undefined {
  if (known.aggregateId !== aggregateId) return new EventIdConflictError(event.id, aggregateId, known.aggregateId, 'other-stream');
  const content = contentOf(event);
  // Data written with another schema version cannot be compared byte for byte: the type decides.
  const same = content.type === known.type && (content.version !== known.version || content.dataJson === known.dataJson());
  return same ? undefined : new EventIdConflictError(event.id, aggregateId, known.aggregateId, 'different-content');
}

/**
 * Decides every request against `heads` (advanced in place) and builds the
 * events to write, taking clientSeqs from `meta` (advanced in place).
 *
 * An id already stored (in `storedEvents`) or planned by an earlier request of
 * the group is acknowledged when it is the same event in the same stream (a
 * retry), and refused with EventIdConflictError otherwise. In an atomic group
 * (appendBatch, one call) an id planned twice is DuplicateInBatchError.
 * An id in `droppedIds` was stored, confirmed and compacted away: its stored
 * form is gone, so the request is refused with HistoryCompactedError rather
 * than storing the event a second time.
 */
export function planGroup(
  requests: readonly AppendRequest[],
  heads: Map<string, number>,
  storedEvents: ReadonlyMap<string, StoredEvent>,
  meta: MetaRecord,
  atomic: boolean,
  droppedIds: ReadonlySet<string> = new Set(),
): GroupPlan {
  const clientIdJson = JSON.stringify(meta.clientId);
  const entries: PageEntry[] = [];
  const outcomes: (AppendOutcome | Error)[] = [];
  const known = new Map<string, KnownEvent>();
  for (const [id, stored] of storedEvents) known.set(id, knownFromStored(stored));
  const refuse = (error: Error): void => {
    if (atomic) throw error;
    outcomes.push(error);
  };
  requests: for (const request of requests) {
    const head = heads.get(request.aggregateId) ?? 0;
    const duplicates: string[] = [];
    const gone = droppedIds.size > 0 ? request.events.filter((e) => droppedIds.has(e.id)).map((e) => e.id) : [];
    if (gone.length > 0) {
      refuse(new HistoryCompactedError('event-id', historyStartOf(meta), { eventIds: gone }));
      continue;
    }
    // Known ids are rare (given ids, retries): with none, no id is looked up (hashing 1,000 ids is not free).
    for (const event of known.size > 0 ? request.events : []) {
      const repeated = known.get(event.id);
      if (!repeated) continue;
      if (atomic && repeated.planned) throw new DuplicateInBatchError(event.id);
      const conflict = repeatOf(event, request.aggregateId, repeated);
      if (conflict) {
        refuse(conflict);
        continue requests;
      }
      duplicates.push(event.id);
    }
    if (duplicates.length === request.events.length && duplicates.length > 0) {
      // A retry of an append that already landed: acknowledge, do not re-check the version.
      const json = `[${request.events.map((e) => known.get(e.id)!.json).join(',')}]`;
      outcomes.push({
        aggregateId: request.aggregateId,
        eventsJson: json,
        nextExpectedVersion: head,
        createdNewStream: false,
        duplicates,
        firstSeq: 0,
        firstClientSeq: 0,
        clientId: meta.clientId,
      });
      continue;
    }
    if (!versionMatches(request.expectedVersion, head)) {
      refuse(new ConcurrencyError(request.aggregateId, request.expectedVersion, head));
      continue;
    }
    const aggregateIdJson = JSON.stringify(request.aggregateId);
    const aggregateTypeJson = JSON.stringify(request.aggregateType);
    let seq = head;
    const firstClientSeq = meta.nextClientSeq;
    // The events' stored JSON goes back only when some were stored before; new ones the caller can rebuild.
    const jsons: string[] | undefined = duplicates.length > 0 ? [] : undefined;
    for (const event of request.events) {
      const repeated = known.size > 0 ? known.get(event.id) : undefined;
      if (repeated) {
        jsons?.push(repeated.json);
        continue;
      }
      seq++;
      const json = spliceEventJson(event, aggregateIdJson, aggregateTypeJson, seq, clientIdJson, meta.nextClientSeq++);
      jsons?.push(json);
      const entry: PageEntry = { json, id: event.id, aggregateId: request.aggregateId, seq, occurredAt: event.occurredAt, indexId: true };
      if (event.generated) entry.generated = true;
      entries.push(entry);
      if (!event.generated) {
        // A given id may come again later in this group: remember what it was.
        const { type, version, dataJson } = contentOf(event);
        known.set(event.id, { aggregateId: request.aggregateId, type, version, json, dataJson: () => dataJson, planned: true });
      }
    }
    heads.set(request.aggregateId, seq);
    const outcome: AppendOutcome = {
      aggregateId: request.aggregateId,
      nextExpectedVersion: seq,
      createdNewStream: head === 0 && seq > 0,
      duplicates,
      firstSeq: seq > head ? head + 1 : 0,
      firstClientSeq: seq > head ? firstClientSeq : 0,
      clientId: meta.clientId,
    };
    if (jsons) outcome.eventsJson = `[${jsons.join(',')}]`;
    outcomes.push(outcome);
  }
  const moved = new Map<string, number>();
  for (const e of entries) moved.set(e.aggregateId, e.seq);
  return { entries, result: { outcomes, moved: [...moved], written: entries.length } };
}
