import { ConcurrencyError, type ExpectedVersion } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import type { ChronicleDB, MetaRecord } from './db.ts';
import { buildPages, spliceEventJson, type PageEntry } from './page-builder.ts';
import { PENDING, type AppendOutcome, type AppendRequest, type PageKey } from './types.ts';
import { newMeta } from './meta.ts';

// Failed requests also fail tx.done, which is what callers await.
const ignore = (): void => undefined;

export interface AppendGroupResult {
  /** Per request: its outcome or the error that refused it (nothing of it was written). */
  outcomes: (AppendOutcome | Error)[];
  /** Aggregates whose heads moved, with their new heads. */
  moved: [string, number][];
  written: number;
}

function versionMatches(expected: ExpectedVersion, head: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return head === 0;
  return expected === head;
}

/**
 * Commits a group of append requests in ONE readwrite transaction (group
 * commit). Each request stays all-or-nothing on its own: a request whose
 * expectedVersion does not match is refused and contributes nothing, the
 * others commit. With `atomic`, any refusal refuses the whole group.
 *
 * Heads, the clientSeq counter and duplicate ids are read inside the same
 * transaction that writes, so two tabs appending at once are serialised by
 * IndexedDB and seqs stay gapless (invariant 2).
 */
export async function commitAppendGroup(
  db: ChronicleDB,
  requests: readonly AppendRequest[],
  options: { atomic: boolean; newClientId: () => string },
): Promise<AppendGroupResult> {
  const tx = db.transaction(['pages', 'meta'], 'readwrite');
  const pages = tx.objectStore('pages');
  const metaStore = tx.objectStore('meta');

  const aggregateIds = [...new Set(requests.map((r) => r.aggregateId))];
  const allIds: string[] = [];
  for (const r of requests) for (const e of r.events) allIds.push(e.id);

  // Issue every read at once: one round of latency, not one per read.
  const metaRead = metaStore.get('client');
  const headReads = aggregateIds.map((id) =>
    pages.index('stream').openKeyCursor(IDBKeyRange.bound([id], [id, []]), 'prev'),
  );
  const storedIds = findStoredIds(pages.index('id'), allIds);
  const [metaFound, headCursors, stored] = await Promise.all([metaRead, Promise.all(headReads), storedIds]);

  const meta: MetaRecord = metaFound ?? newMeta(options.newClientId());
  const heads = new Map<string, number>();
  aggregateIds.forEach((id, i) => heads.set(id, headCursors[i]?.key[1] ?? 0));

  // Duplicates report the stored event: fetch the pages that hold them.
  const storedEvents = new Map<string, StoredEvent>();
  if (stored.size > 0) {
    const keys = uniqueKeys([...stored.values()]);
    const found = await Promise.all(keys.map((k) => pages.get(k)));
    for (const page of found) {
      if (!page) continue;
      for (const event of JSON.parse(page.json) as StoredEvent[]) {
        if (stored.has(event.id)) storedEvents.set(event.id, event);
      }
    }
  }

  const clientIdJson = JSON.stringify(meta.clientId);
  const entries: PageEntry[] = [];
  const outcomes: (AppendOutcome | Error)[] = [];
  for (const request of requests) {
    const head = heads.get(request.aggregateId) ?? 0;
    const fresh = request.events.filter((e) => !storedEvents.has(e.id));
    const duplicates = request.events.filter((e) => storedEvents.has(e.id)).map((e) => e.id);
    if (fresh.length === 0 && duplicates.length > 0) {
      // A retry of an append that already landed: acknowledge, do not re-check the version.
      const json = `[${request.events.map((e) => JSON.stringify(storedEvents.get(e.id))).join(',')}]`;
      outcomes.push({ aggregateId: request.aggregateId, eventsJson: json, nextExpectedVersion: head, createdNewStream: false, duplicates });
      continue;
    }
    if (!versionMatches(request.expectedVersion, head)) {
      const error = new ConcurrencyError(request.aggregateId, request.expectedVersion, head);
      if (options.atomic) throw error;
      outcomes.push(error);
      continue;
    }
    const aggregateIdJson = JSON.stringify(request.aggregateId);
    const aggregateTypeJson = JSON.stringify(request.aggregateType);
    let seq = head;
    const jsons: string[] = [];
    for (const event of request.events) {
      const storedCopy = storedEvents.get(event.id);
      if (storedCopy) {
        jsons.push(JSON.stringify(storedCopy));
        continue;
      }
      seq++;
      const json = spliceEventJson(event, aggregateIdJson, aggregateTypeJson, seq, clientIdJson, meta.nextClientSeq++);
      jsons.push(json);
      entries.push({ json, id: event.id, aggregateId: request.aggregateId, seq, occurredAt: event.occurredAt, indexId: true });
    }
    heads.set(request.aggregateId, seq);
    outcomes.push({
      aggregateId: request.aggregateId,
      eventsJson: `[${jsons.join(',')}]`,
      nextExpectedVersion: seq,
      createdNewStream: head === 0 && seq > 0,
      duplicates,
    });
  }

  const moved = new Map<string, number>();
  for (const e of entries) moved.set(e.aggregateId, e.seq);
  if (entries.length === 0) {
    // Nothing to write: let the read-only work end without touching the log.
    await tx.done;
    return { outcomes, moved: [], written: 0 };
  }
  for (const page of buildPages(entries)) {
    pages.put(page, [PENDING, meta.nextLsn++]).catch(ignore);
  }
  meta.pendingEvents += entries.length;
  metaStore.put(meta, 'client').catch(ignore);
  await tx.done;
  return { outcomes, moved: [...moved], written: entries.length };
}

function uniqueKeys(keys: PageKey[]): PageKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const s = `${k[0]}:${k[1]}`;
    if (seen.has(s)) return false;
    seen.add(s);
    return true;
  });
}

type IdIndex = {
  count(range: IDBKeyRange): Promise<number>;
  getKey(query: string): Promise<PageKey | undefined>;
};

/**
 * Which of `ids` are already stored, and in which page. Ids made by Chronicle
 * are UUIDv7 and increase, so a new batch usually lies above every stored id:
 * one count over [min, max] proves "no duplicates" in a single request. Only
 * when that range holds stored ids is each id looked up.
 */
async function findStoredIds(index: IdIndex, ids: readonly string[]): Promise<Map<string, PageKey>> {
  const found = new Map<string, PageKey>();
  if (ids.length === 0) return found;
  let min = ids[0]!;
  let max = ids[0]!;
  for (const id of ids) {
    if (id < min) min = id;
    if (id > max) max = id;
  }
  const inRange = await index.count(IDBKeyRange.bound(min, max));
  if (inRange === 0) return found;
  const keys = await Promise.all(ids.map((id) => index.getKey(id)));
  ids.forEach((id, i) => {
    const key = keys[i];
    if (key) found.set(id, key);
  });
  return found;
}
