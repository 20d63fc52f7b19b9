import { ChronicleError } from '../src/core/errors.ts';
import { findIdProblem, findLinkProblem } from '../src/core/text-rules.ts';
import { decodePageJson } from './page-codec.ts';
import type { StoredEvent } from '../src/core/event.ts';
import { refuseIfDeleting, type ChronicleDB, type MetaRecord } from './db.ts';
import { foreignPendingCount } from '../src/core/unfinished-work.ts';
import { deletePage, putCommit, putPage, putPendingPage, readBacklog, readPages } from './page-store.ts';
import { buildCommit, buildPages, entryOf, keptWithSlots, pendingPageOf } from './page-builder.ts';
import { findStoredEvents, indexedHead } from './lookups.ts';
import { pendingRangeAll } from './pending.ts';
import { CONFIRMED, PENDING, type PageKey } from './types.ts';
import { loadConfirmedHeads, noteStored, repeatedSeqProblem, type ConfirmedHeads } from './confirmed-heads.ts';

const ignore = (): void => undefined;

/** One of this client's pending events, now confirmed by the server. */
export interface ConfirmedOwnEvent {
  id: string;
  type: string;
  aggregateId: string;
  seq: number;
  position: number;
}

export interface IngestResult {
  /** Events stored by this call (already-stored positions are skipped). */
  stored: number;
  head: number;
  /** Aggregates whose confirmed head moved, with the new head. */
  moved: [string, number][];
  /** Aggregates that received events from other clients: where a rebase may be due. */
  touchedByOthers: string[];
  /** Our own pending events that this ingest confirmed (and removed from the pending area). */
  confirmed: ConfirmedOwnEvent[];
}

/**
 * One event as the log may store it. Seq, clientSeq and position are safe
 * integers: past 2^53 one number stands for two (a seq after 2^53 is 2^53
 * again), so the log's gapless, unique seqs and positions would no longer be.
 * Ids are what every reader asks for by the id rules (text-rules.ts): an
 * aggregate id of 10,000 characters, or with a NUL, would be stored and then
 * refused by readStream, load and append.
 */
function checkEvent(e: StoredEvent, i: number): void {
  const bad = (field: string, why = 'is missing or malformed'): never => {
    throw new ChronicleError('VALIDATION', `Confirmed event at index ${i}: ${field} ${why}`, { index: i, path: field });
  };
  const count = (value: unknown, field: string): void => {
    if (!Number.isSafeInteger(value) || (value as number) < 1) bad(field, 'must be a positive safe integer');
  };
  const ident = (value: unknown, field: string): void => {
    const problem = findIdProblem(value);
    if (problem !== undefined) bad(field, problem);
  };
  if (typeof e !== 'object' || e === null) bad('(event)');
  ident(e.id, 'id');
  ident(e.aggregateId, 'aggregateId');
  ident(e.aggregateType, 'aggregateType');
  ident(e.type, 'type');
  // What reading the event back needs: a version to upcast from, and data (any JSON value, as the protocol allows).
  count(e.version, 'version');
  if (e.data === undefined) bad('data');
  count(e.seq, 'seq');
  count(e.position, 'position');
  if (typeof e.meta !== 'object' || e.meta === null) bad('meta');
  ident(e.meta.clientId, 'meta.clientId');
  count(e.meta.clientSeq, 'meta.clientSeq');
  if (!Number.isFinite(e.meta.occurredAt)) bad('meta.occurredAt');
  for (const link of ['correlationId', 'causationId'] as const) {
    const value: unknown = e.meta[link];
    const problem = value === undefined ? undefined : findLinkProblem(value);
    if (problem !== undefined) bad(`meta.${link}`, problem);
  }
}

type IngestTx = Parameters<typeof putPage>[0];

/**
 * Other clients' pending events (importLog of another device's export: MetaRecord.foreignPending) a pull
 * may take out of the pending area. The rule: such an event is a copy of its device's unsynced edit, so
 * it stays pending (read and folded as pending) until a pull brings the same id confirmed, which takes
 * it out. A pull that brings another event at its aggregate and seq takes it out too, with the later
 * ones of its aggregate (stacked on it): its device lost the seq and will push it rebased, and it comes
 * back confirmed then. Kept, it would be a second event at one seq, which loads cannot fold (the loader
 * folds the confirmed one and skips to the next seq, as it does for this client's own until their rebase,
 * which never comes for another device's). No outcome is told (the app's outcomes are of its own
 * events) and nothing is rejected: the other device still holds them.
 */
interface ForeignSweep {
  /** Other clients' event ids the pull brought confirmed, with the seq each has now. */
  confirmed: Map<string, number>;
  /** The highest seq the pull brought, per aggregate. */
  heads: Map<string, number>;
  /** Other clients' pending events to look at: the walk ends once it has seen them all (Infinity: unknown). */
  count: number;
}

/** What a pull must look for among other clients' pending events, or undefined when there is nothing to look for. */
function foreignSweepOf(fresh: readonly StoredEvent[], clientId: string, count: number | undefined): ForeignSweep | undefined {
  // None counted (every store that never imported another device's pending events), or a pull of this client's
  // own events only (they come back at the seqs they were pushed with, which a rebase cleared of others' events).
  if (count === 0 || fresh.every((e) => e.meta.clientId === clientId)) return undefined;
  const heads = new Map<string, number>();
  for (const e of fresh) if ((heads.get(e.aggregateId) ?? 0) < e.seq) heads.set(e.aggregateId, e.seq);
  const confirmed = new Map(fresh.filter((e) => e.meta.clientId !== clientId).map((e) => [e.id, e.seq]));
  return { confirmed, heads, count: count ?? Infinity };
}

interface Removed {
  /** Events taken out of the pending area. */
  removed: number;
  /** Of them, other clients' events; and of those, the ones another event's seq took out (not their confirmation). */
  foreign: number;
  superseded: number;
  /** Other clients' pending events seen, and whether the walk saw the whole pending area. */
  foreignSeen: number;
  whole: boolean;
  /** Aggregates where one of them left and another event holds its seq now: snapshots there may hold it. */
  resequenced: Set<string>;
}

/**
 * Removes confirmed ids (this client's: `ownIds`) and the other clients'
 * events `foreign` says leave from the pending area. Pending events are
 * pushed in pending order, so the confirmed ones sit at its front: the walk
 * stops as soon as every id is found and every other client's event was seen
 * (never given ids that cannot be there). A page that loses events is written
 * again with its own index entries, the events left at their slots (cursors
 * taken before still name them: core/cursor.ts); the index record of a
 * commit of several pages goes once none of its pages is left (until then,
 * entries of its confirmed events stay in it: readers check what pages hold).
 */
async function removeConfirmedPending(tx: IngestTx, clientId: string, ownIds: Set<string>, foreign?: ForeignSweep): Promise<Removed> {
  const pages = tx.objectStore('pages');
  const out: Removed = { removed: 0, foreign: 0, superseded: 0, foreignSeen: 0, whole: false, resequenced: new Set() };
  let ownFound = 0;
  /** Per aggregate, the seq from which other clients' pending events leave (another event took it). */
  const supersededFrom = new Map<string, number>();
  const leaves = (e: StoredEvent): boolean => {
    if (ownIds.has(e.id)) {
      ownFound++;
      return true;
    }
    if (!foreign || e.meta.clientId === clientId) return false;
    out.foreignSeen++;
    const confirmedSeq = foreign.confirmed.get(e.id);
    if (confirmedSeq !== undefined) {
      // Rebased by its device (another event took its seq): folded states past it no longer hold.
      if (confirmedSeq !== e.seq) out.resequenced.add(e.aggregateId);
      out.foreign++;
      return true;
    }
    // An aggregate's pending events lie in seq order: the first to leave has the lowest seq.
    const from = supersededFrom.get(e.aggregateId);
    if (from === undefined && e.seq > (foreign.heads.get(e.aggregateId) ?? 0)) return false;
    if (from === undefined) supersededFrom.set(e.aggregateId, e.seq);
    out.resequenced.add(e.aggregateId);
    out.foreign++;
    out.superseded++;
    return true;
  };
  let lower: PageKey | undefined;
  let touched = 0;
  while (ownFound < ownIds.size || (foreign && out.foreignSeen < foreign.count)) {
    const range = lower ? IDBKeyRange.bound(lower, [PENDING, Infinity], true) : pendingRangeAll();
    const { keys, pages: values } = await readPages(pages, range, 8);
    if (values.length === 0) {
      out.whole = true;
      break;
    }
    values.forEach((page, i) => {
      const events = decodePageJson(page.json);
      const { events: remaining, slots } = keptWithSlots(page, events, (e) => !leaves(e));
      if (remaining.length === events.length) return;
      out.removed += events.length - remaining.length;
      const key = keys[i]!;
      touched = Math.max(touched, key[1]);
      if (remaining.length === 0) deletePage(tx, key);
      else putPendingPage(tx, key, pendingPageOf(remaining, slots));
    });
    lower = keys[keys.length - 1];
  }
  if (touched > 0) {
    // Commits that may have lost their last page: the deletes above run first, in request order.
    const index = tx.objectStore('pageIndex');
    const through = IDBKeyRange.bound([PENDING, -Infinity], [PENDING, touched]);
    const [commitKeys, commits] = await Promise.all([index.getAllKeys(through), index.getAll(through)]);
    const left = await Promise.all(commitKeys.map((key, i) => pages.count(IDBKeyRange.bound(key, [PENDING, commits[i]?.last ?? key[1]]))));
    commitKeys.forEach((key, i) => {
      if (left[i] === 0) index.delete(key).catch(ignore);
    });
  }
  return out;
}

/**
 * The other clients' pending events left after a sweep, counted: the count less those that left, or,
 * where it was unknown (a build that does not keep it rewrote pending events), those the whole walk saw
 * less those that left. Events another one's seq took out are a rewrite of the pending area
 * (pendingRewrites: projections fold their pending layers again).
 */
function countForeignLeft(meta: MetaRecord, swept: Removed, known: number | undefined): void {
  if (swept.superseded > 0) meta.pendingRewrites = (meta.pendingRewrites ?? 0) + 1;
  const left = known !== undefined ? known - swept.foreign : swept.whole ? swept.foreignSeen - swept.foreign : undefined;
  // Still unknown (a walk that stopped early cannot tell): the count keeps its old stamp, and the next pull looks again.
  if (left === undefined) return;
  if (left > 0) meta.foreignPending = { count: left, rewrites: meta.pendingRewrites ?? 0 };
  else delete meta.foreignPending;
}

/**
 * Stores events the server has confirmed, in position order, as confirmed
 * pages, and in the same transaction drops our own events it confirms from
 * the pending area. Positions must continue the stored confirmed head without
 * a gap; positions already stored are skipped, so ingesting the same pull page
 * twice stores it once. Event ids are indexed only for this client's own
 * events: the server keeps ids unique, so only our own ids can come back
 * through a local append.
 */
export async function ingestConfirmed(
  db: ChronicleDB,
  events: readonly StoredEvent[],
  /** A sync round's: refuses an event that repeats a seq its aggregate holds (confirmed-heads.ts says why). */
  heads?: ConfirmedHeads,
): Promise<IngestResult> {
  events.forEach(checkEvent);
  // Snapshots: only where another device's pending events leave other than at their own seq (ForeignSweep).
  const tx = db.transaction(['pages', 'pageIndex', 'meta', 'snapshots'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const meta = await metaStore.get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing; open the store first');
  // Pulled after deleteStore found nothing unfinished: nothing may be written that it did not count.
  await refuseIfDeleting(tx, meta);
  const fresh = events.filter((e) => (e.position as number) > meta.confirmedHead);
  if (fresh.length === 0) {
    await tx.done;
    return { stored: 0, head: meta.confirmedHead, moved: [], touchedByOthers: [], confirmed: [] };
  }
  let expected = meta.confirmedHead + 1;
  for (const e of fresh) {
    if (e.position !== expected) {
      tx.abort();
      await tx.done.catch(ignore);
      throw new ChronicleError('POSITION_GAP', `Confirmed events must continue at position ${expected}, got ${e.position}`, {
        expected,
        got: e.position,
      });
    }
    expected++;
  }
  if (heads) {
    await loadConfirmedHeads(
      tx,
      meta,
      heads,
      fresh.map((e) => e.aggregateId),
    );
    const repeated = repeatedSeqProblem(fresh, (id) => heads.known.get(id) ?? 0);
    if (repeated) {
      tx.abort();
      await tx.done.catch(ignore);
      throw new ChronicleError('SYNC_PROTOCOL', `Sync server: a pulled event repeats one this client holds: ${repeated}`, {
        position: fresh[0]!.position,
      });
    }
  }
  const own = fresh.filter((e) => e.meta.clientId === meta.clientId);
  const knownForeign = foreignPendingCount(meta);
  const foreign = foreignSweepOf(fresh, meta.clientId, knownForeign);
  const swept =
    own.length > 0 || foreign ? await removeConfirmedPending(tx, meta.clientId, new Set(own.map((e) => e.id)), foreign) : undefined;

  const entries = fresh.map((e) => entryOf(e, e.meta.clientId === meta.clientId));
  let position = fresh[0]!.position as number;
  // The pages go in now; their index records follow when the engine is idle (indexBacklog).
  meta.indexedThrough ??= meta.confirmedHead;
  // Counted from a store's first confirmed event on; an older store's count starts at its next compaction.
  const counting = meta.confirmedBytes !== undefined || meta.confirmedEvents === 0;
  for (const built of buildPages(entries)) {
    putPage(tx, [CONFIRMED, position], built, { deferIndex: true });
    position += built.page.count;
    if (counting) meta.confirmedBytes = (meta.confirmedBytes ?? 0) + built.page.json.length;
  }
  meta.confirmedHead = position - 1;
  meta.confirmedHeadId = fresh[fresh.length - 1]!.id;
  meta.confirmedEvents += fresh.length;
  meta.pendingEvents -= swept?.removed ?? 0;
  if (swept && foreign) countForeignLeft(meta, swept, knownForeign);
  // A snapshot that folded them covers events no longer at those seqs (as a rebase drops its aggregates' snapshots).
  for (const aggregateId of swept?.resequenced ?? []) tx.objectStore('snapshots').delete(aggregateId).catch(ignore);
  meta.generation = (meta.generation ?? 0) + 1;
  metaStore.put(meta, 'client').catch(ignore);
  await tx.done;
  if (heads) noteStored(heads, fresh);

  const moved = new Map<string, number>();
  const touched = new Set<string>();
  for (const e of fresh) {
    if ((moved.get(e.aggregateId) ?? 0) < e.seq) moved.set(e.aggregateId, e.seq);
    if (e.meta.clientId !== meta.clientId) touched.add(e.aggregateId);
  }
  return {
    stored: fresh.length,
    head: meta.confirmedHead,
    moved: [...moved],
    touchedByOthers: [...touched],
    confirmed: own.map((e) => ({ id: e.id, type: e.type, aggregateId: e.aggregateId, seq: e.seq, position: e.position as number })),
  };
}

/**
 * Stores pending events exactly as given (ids, seqs, clientIds kept): how an
 * exported log is imported into a scratch store to reproduce a user's bug.
 * Each event must continue its aggregate's stream; ids already stored are
 * skipped, so importing twice stores once. Other clients' events among them
 * are counted (MetaRecord.foreignPending): this store never pushes them, and
 * a pull takes them out of the pending area (ForeignSweep).
 */
export async function importPendingRaw(
  db: ChronicleDB,
  events: readonly StoredEvent[],
): Promise<{ stored: number; moved: [string, number][]; nextLsn: number }> {
  events.forEach(checkPendingEvent);
  const tx = db.transaction(['pages', 'pageIndex', 'meta'], 'readwrite');
  const metaStore = tx.objectStore('meta');
  const aggregateIds = [...new Set(events.map((e) => e.aggregateId))];
  const ids = events.map((e) => e.id);
  const dropped = new Set<string>();
  const [meta, heads, known] = await Promise.all([
    metaStore.get('client'),
    Promise.all(aggregateIds.map((id) => indexedHead(tx, id))),
    findStoredEvents(tx, ids, dropped),
  ]);
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing; open the store first');
  await refuseIfDeleting(tx, meta);
  const backlog = await readBacklog(tx, meta);
  const head = new Map(aggregateIds.map((id, i) => [id, Math.max(heads[i]!, backlog.heads.get(id) ?? 0)]));
  const fresh = events.filter((e) => !known.has(e.id) && !dropped.has(e.id) && !backlog.ownIds.has(e.id));
  for (const e of fresh) {
    const expected = (head.get(e.aggregateId) ?? 0) + 1;
    if (e.seq !== expected) {
      tx.abort();
      await tx.done.catch(ignore);
      throw new ChronicleError('SEQ_GAP', `Imported event ${e.id} has seq ${e.seq}; aggregate ${e.aggregateId} expects ${expected}`, {
        eventId: e.id,
        aggregateId: e.aggregateId,
        expected,
        got: e.seq,
      });
    }
    head.set(e.aggregateId, e.seq);
  }
  if (fresh.length > 0) {
    meta.nextLsn = putCommit(
      tx,
      meta.nextLsn,
      buildCommit(
        fresh.map((e) => entryOf(e, true)),
        meta.nextLsn,
      ),
    );
    meta.pendingEvents += fresh.length;
    countImportedForeign(meta, fresh);
    meta.generation = (meta.generation ?? 0) + 1;
    metaStore.put(meta, 'client').catch(ignore);
  }
  await tx.done;
  return { stored: fresh.length, moved: [...head].filter(([id]) => fresh.some((e) => e.aggregateId === id)), nextLsn: meta.nextLsn };
}

/**
 * Counts the other clients' events among imported pending ones (MetaRecord.foreignPending): a count
 * that was unknown stays so (its old stamp), and a pull counts them all again.
 */
function countImportedForeign(meta: MetaRecord, fresh: readonly StoredEvent[]): void {
  const foreign = fresh.filter((e) => e.meta.clientId !== meta.clientId).length;
  if (foreign === 0) return;
  const before = meta.foreignPending;
  meta.foreignPending = { count: (before?.count ?? 0) + foreign, rewrites: before?.rewrites ?? meta.pendingRewrites ?? 0 };
}

function checkPendingEvent(e: StoredEvent, i: number): void {
  if (e && typeof e === 'object' && e.position === undefined) {
    checkEvent({ ...e, position: 1 }, i);
    return;
  }
  throw new ChronicleError('VALIDATION', `Pending event at index ${i} must be an event without a position`, { index: i });
}
