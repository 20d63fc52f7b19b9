import {
  horizonOf,
  jobThrough,
  pagesOverPolicy,
  projectionThrough,
  type Blocker,
  type PageFacts,
  type RetentionOptions,
} from '../src/core/compaction.ts';
import { ChronicleError } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type {
  ChronicleDB,
  CompactionMeta,
  JobRecord,
  MetaRecord,
  PageIndexRecord,
  PageRecord,
  ProjectionRecord,
  ReactionRecord,
  SnapshotRecord,
} from './db.ts';
import { idKeys } from './id-keys.ts';
import { historyStartOf } from './meta.ts';
import { decodePageJson } from './page-codec.ts';
import { readPages } from './page-store.ts';
import { CONFIRMED, DROPPED, type PageKey, type RawPage } from './types.ts';

/**
 * Compaction: dropping the oldest confirmed pages from this device, a few
 * pages per transaction. The engine knows no reducers, so a step has two
 * halves: `planCompaction` (read-only) says which pages may go and which
 * aggregates they touch; the client folds each of those aggregates to the
 * last seq the pages hold (its base) and hands the bases to
 * `dropCompacted`, which checks everything again in ONE readwrite
 * transaction and then deletes. A crash between or during the two leaves the
 * log as it was, or with exactly that batch gone: never half of it.
 *
 * What stays of the dropped pages (under pageIndex key [DROPPED, first]):
 * their stream heads (so an aggregate's head and seqs stay right), and this
 * client's event ids, exactly (an append repeating one is refused, not stored
 * again: see lookups.ts). Pending pages are never touched.
 */

/** One aggregate a batch touches: the last seq of it the batch holds, and its stored base. */
export interface CompactionAggregate {
  aggregateId: string;
  aggregateType: string;
  /** Per page of the batch, the highest seq of this aggregate in it (0: none). */
  seqs: number[];
  /** The base stored now (at the last seq dropped before), if any. */
  base: SnapshotRecord | undefined;
}

export interface CompactionPlan {
  historyStartsAt: number;
  /** The pages that may go now, oldest first, by first position. */
  pages: { first: number; count: number; bytes: number }[];
  /** Those pages' events: an aggregate's events after its base up to the batch's last are all in them, so bases fold from these alone. */
  raw: RawPage[];
  aggregates: CompactionAggregate[];
  /** Checkpoints that hold compaction below what the policy wants. */
  blockers: Blocker[];
}

export interface DropRequest {
  /** The historyStartsAt the plan was made at: the drop does nothing if another tab compacted meanwhile. */
  historyStartsAt: number;
  /** First positions of the pages to drop: the oldest stored ones, consecutive. */
  pages: number[];
  /** One per aggregate the pages touch, at exactly the last seq they hold of it (unless a stored base covers it). */
  bases: SnapshotRecord[];
}

export interface DropResult {
  pages: number;
  events: number;
  bytes: number;
  basesWritten: number;
  historyStartsAt: number;
  /** Set when nothing was dropped: why. */
  skipped?: 'raced' | 'blocked';
}

const ignore = (): void => undefined;
const confirmedFrom = (position: number) => IDBKeyRange.bound([CONFIRMED, position], [CONFIRMED, Infinity]);

/** The checkpoint stores, in any transaction that covers them. */
interface CheckpointStores {
  objectStore(name: 'projections'): { getAll(): Promise<ProjectionRecord[]> };
  objectStore(name: 'jobs'): { getAll(): Promise<JobRecord[]> };
  objectStore(name: 'reactions'): { getAll(): Promise<ReactionRecord[]> };
}

/** The checkpoints compaction may not pass: projections, running replay jobs, reactions, unindexed pages. */
async function readLimits(tx: CheckpointStores, meta: MetaRecord): Promise<Blocker[]> {
  const [projections, jobs, reactions] = await Promise.all([
    tx.objectStore('projections').getAll(),
    tx.objectStore('jobs').getAll(),
    tx.objectStore('reactions').getAll(),
  ]);
  return limitsOf(meta, projections, jobs, reactions);
}

function limitsOf(
  meta: MetaRecord,
  projections: readonly ProjectionRecord[],
  jobs: readonly JobRecord[],
  reactions: readonly ReactionRecord[],
): Blocker[] {
  const limits: Blocker[] = [
    ...projections.map((p): Blocker => ({ kind: 'projection', name: p.name, position: projectionThrough(p.cursor) })),
    ...jobs.map((j): Blocker => ({ kind: 'job', name: j.name, position: jobThrough(j) })),
    ...reactions
      .filter((r) => r.forgottenAt === undefined)
      .map((r): Blocker => ({ kind: 'reaction', name: r.name, position: r.confirmed })),
  ];
  if (meta.indexedThrough !== undefined) limits.push({ kind: 'unindexed', name: 'pages not indexed yet', position: meta.indexedThrough });
  return limits.filter((limit) => limit.position !== Number.POSITIVE_INFINITY);
}

/** What compaction reads of confirmed pages. */
function facts(keys: readonly PageKey[], pages: readonly PageRecord[]): PageFacts[] {
  return pages.map((page, i) => ({ first: keys[i]![1], count: page.count, t1: page.t1, bytes: page.json.length }));
}

/** Bytes of `events` confirmed events, at the average of `sample` (the oldest pages): for stores that kept no count. */
function estimateBytes(events: number, sample: readonly PageFacts[]): number {
  const seen = sample.reduce((sum, f) => sum + f.count, 0);
  return Math.round((events * sample.reduce((sum, f) => sum + f.bytes, 0)) / Math.max(1, seen));
}

/** The bytes of confirmed pages stored: counted exactly since this version, estimated for an older store. */
const storedBytes = (meta: MetaRecord, sample: readonly PageFacts[]): number =>
  meta.confirmedBytes ?? estimateBytes(meta.confirmedEvents, sample);

/** Which of the oldest confirmed pages may go now (at most `maxPages`), and what they touch. Reads only. */
export async function planCompaction(db: ChronicleDB, policy: RetentionOptions, now: number, maxPages: number): Promise<CompactionPlan> {
  const meta = await db.get('meta', 'client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
  const historyStartsAt = historyStartOf(meta);
  const empty: CompactionPlan = { historyStartsAt, pages: [], raw: [], aggregates: [], blockers: [] };
  const overOf = (keys: PageKey[], pages: PageRecord[]) => {
    const read = facts(keys, pages);
    const totals = { confirmedEvents: meta.confirmedEvents, confirmedBytes: storedBytes(meta, read) };
    return { facts: read, over: pagesOverPolicy(read, totals, policy, now) };
  };
  // The oldest page first: when the policy keeps it, it keeps everything (what remains is a suffix), and a
  // background run after every quiet moment costs one small read.
  const oldest = await readPages(db.transaction('pages').store, confirmedFrom(historyStartsAt), 1);
  if (oldest.pages.length === 0 || overOf(oldest.keys, oldest.pages).over === 0) return empty;
  const { keys, pages } = maxPages > 1 ? await readPages(db.transaction('pages').store, confirmedFrom(historyStartsAt), maxPages) : oldest;
  const { facts: read, over } = overOf(keys, pages);
  if (over === 0) return empty;
  const lastOf = (i: number) => read[i]!.first + read[i]!.count - 1;
  const limits = await readLimits(db.transaction(['projections', 'jobs', 'reactions']), meta);
  const { horizon, blockers } = horizonOf(lastOf(over - 1), limits);
  let n = 0;
  while (n < over && lastOf(n) <= horizon) n++;
  const batch = pages.slice(0, n);
  const aggregates = touched(batch);
  const bases = await Promise.all(aggregates.map((a) => db.get('bases', a.aggregateId)));
  aggregates.forEach((a, i) => (a.base = bases[i]));
  return {
    historyStartsAt,
    pages: read.slice(0, n).map(({ first, count, bytes }) => ({ first, count, bytes })),
    raw: batch.map((page, i) => ({ area: CONFIRMED, page: keys[i]![1], json: page.json, count: page.count })),
    aggregates,
    blockers,
  };
}

function touched(pages: readonly PageRecord[]): CompactionAggregate[] {
  const byId = new Map<string, CompactionAggregate>();
  pages.forEach((page, p) => {
    for (const e of decodePageJson(page.json)) {
      let entry = byId.get(e.aggregateId);
      if (!entry) {
        entry = { aggregateId: e.aggregateId, aggregateType: e.aggregateType, seqs: pages.map(() => 0), base: undefined };
        byId.set(e.aggregateId, entry);
      }
      entry.seqs[p] = Math.max(entry.seqs[p]!, e.seq);
    }
  });
  return [...byId.values()];
}

/** The record kept of dropped pages: stream heads, and this client's ids (as runs to find them, and exactly). */
function tombstoneOf(events: readonly StoredEvent[], clientId: string): PageIndexRecord {
  const heads = new Map<string, number>();
  const own: string[] = [];
  for (const e of events) {
    if ((heads.get(e.aggregateId) ?? 0) < e.seq) heads.set(e.aggregateId, e.seq);
    if (e.meta.clientId === clientId) own.push(e.id);
  }
  own.sort();
  return { stream: [...heads], id: idKeys(own), dropped: own };
}

/**
 * Drops the pages of a plan in one readwrite transaction, after checking
 * again, inside it, that they are the oldest confirmed pages, that every
 * checkpoint is past them and that every aggregate they touch has a base at
 * its last seq among them. Returns what it dropped.
 */
export async function dropCompacted(db: ChronicleDB, request: DropRequest): Promise<DropResult> {
  const stores = ['pages', 'pageIndex', 'meta', 'bases', 'projections', 'jobs', 'reactions', 'processed'] as const;
  const tx = db.transaction([...stores], 'readwrite');
  const meta = await tx.objectStore('meta').get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
  const startsAt = historyStartOf(meta);
  const none = (skipped: 'raced' | 'blocked'): DropResult => ({
    pages: 0,
    events: 0,
    bytes: 0,
    basesWritten: 0,
    historyStartsAt: startsAt,
    skipped,
  });
  if (startsAt !== request.historyStartsAt || request.pages.length === 0) {
    await tx.done;
    return none('raced');
  }
  const { keys, pages } = await readPages(tx.objectStore('pages'), confirmedFrom(startsAt), request.pages.length);
  if (keys.length !== request.pages.length || keys.some((key, i) => key[1] !== request.pages[i])) {
    await tx.done;
    return none('raced');
  }
  const last = keys[keys.length - 1]![1] + pages[pages.length - 1]!.count - 1;
  if ((await readLimits(tx, meta)).some((limit) => limit.position < last)) {
    await tx.done;
    return none('blocked');
  }
  const events = pages.flatMap((page) => decodePageJson(page.json));
  const tombstone = tombstoneOf(events, meta.clientId);
  const given = new Map(request.bases.map((b) => [b.aggregateId, b]));
  const stored = await Promise.all(tombstone.stream.map(([id]) => tx.objectStore('bases').get(id)));
  const lacking = tombstone.stream.find(([id, seq], i) => given.get(id)?.seq !== seq && (stored[i]?.seq ?? 0) < seq);
  if (lacking) {
    tx.abort();
    await tx.done.catch(ignore);
    const [aggregateId, seq] = lacking;
    throw new ChronicleError('VALIDATION', `Compaction needs a base of aggregate "${aggregateId}" at seq ${seq}`, { aggregateId, seq });
  }
  let basesWritten = 0;
  for (const [aggregateId, seq] of tombstone.stream) {
    const base = given.get(aggregateId);
    if (base?.seq !== seq) continue;
    tx.objectStore('bases').put(base, aggregateId).catch(ignore);
    basesWritten++;
  }
  for (const key of keys) {
    tx.objectStore('pages').delete(key).catch(ignore);
    tx.objectStore('pageIndex').delete(key).catch(ignore);
  }
  // Every reaction is past these events (readLimits): its processed records of them are never read again.
  for (const reaction of await tx.objectStore('reactions').getAllKeys()) {
    for (const event of events) tx.objectStore('processed').delete([reaction, event.id]).catch(ignore);
  }
  const dropKey: PageKey = [DROPPED, keys[0]![1]];
  tx.objectStore('pageIndex').put(tombstone, dropKey).catch(ignore);
  const bytes = pages.reduce((sum, page) => sum + page.json.length, 0);
  meta.compaction = advanced(meta.compaction, last + 1, events.length, pages, bytes);
  meta.confirmedEvents -= events.length;
  // A store last written by an older version starts counting here, from an estimate of what remains
  // (meta.confirmedEvents is already without the dropped events; see MetaRecord.confirmedBytes).
  meta.confirmedBytes =
    meta.confirmedBytes === undefined ? estimateBytes(meta.confirmedEvents, facts(keys, pages)) : Math.max(0, meta.confirmedBytes - bytes);
  meta.generation = (meta.generation ?? 0) + 1;
  tx.objectStore('meta').put(meta, 'client').catch(ignore);
  await tx.done;
  return { pages: keys.length, events: events.length, bytes, basesWritten, historyStartsAt: last + 1 };
}

function advanced(
  before: CompactionMeta | undefined,
  startsAt: number,
  events: number,
  pages: readonly PageRecord[],
  bytes: number,
): CompactionMeta {
  const t0 = Math.min(before?.t0 ?? Infinity, ...pages.map((p) => p.t0));
  const t1 = Math.max(before?.t1 ?? -Infinity, ...pages.map((p) => p.t1));
  return {
    historyStartsAt: startsAt,
    droppedEvents: (before?.droppedEvents ?? 0) + events,
    droppedPages: (before?.droppedPages ?? 0) + pages.length,
    droppedBytes: (before?.droppedBytes ?? 0) + bytes,
    t0,
    t1,
  };
}
