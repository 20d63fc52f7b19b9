import type { IdKey } from './db.ts';
import type { PageKey } from './types.ts';

/**
 * The `id` index entries of a page or commit, and the lookups over them.
 *
 * An id is indexed so that a local append repeating it is found (idempotent
 * appends). Ids made by Chronicle are UUIDv7: time-ordered, and the ids of
 * one commit are close in time. A commit with many of them indexes their runs
 * [lowest, highest] instead of each id: an append of 1,000 events writes one
 * entry, not 1,000 (IndexedDB's cost is per index entry, much as per record).
 * A run never spans more than RUN_MS of id time, so the runs that may hold an
 * id start at most RUN_MS before it: a lookup walks only those.
 *
 * Which ids go into runs depends on the id alone (its shape), so a lookup
 * knows where to look; every lookup also asks for the id itself, which
 * covers ids indexed one by one (few in a commit, or any other shape, or
 * written before runs existed).
 */

/** Lowercase canonical UUIDv7, the shape uuidv7() makes: its first 48 bits are epoch milliseconds. */
const ORDERED = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The widest run, in milliseconds of id time. */
export const RUN_MS = 1000;

/** Up to this many time-ordered ids in one commit are indexed one by one (a run would not save an entry). */
export const EXACT_UP_TO = 4;

export function isOrderedId(id: string): boolean {
  return id.length === 36 && ORDERED.test(id);
}

/** The epoch milliseconds in a time-ordered id. */
export function timeOfId(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The start of every time-ordered id made at `ms` or later ("xxxxxxxx-xxxx"). */
function prefixAt(ms: number): string {
  const hex = Math.max(0, ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/**
 * The `id` entries for these ids: time-ordered ones as runs when there are
 * many, the others as themselves. `orderedIds` are known to be time-ordered
 * (made by uuidv7()): their shape is not tested again.
 */
export function idKeys(ids: readonly string[], orderedIds: readonly string[] = []): IdKey[] {
  const keys: IdKey[] = [];
  const ordered: string[] = [...orderedIds];
  for (const id of ids) {
    if (isOrderedId(id)) ordered.push(id);
    else keys.push(id);
  }
  if (ordered.length <= EXACT_UP_TO) return keys.concat(ordered);
  ordered.sort();
  let lo = ordered[0]!;
  let loTime = timeOfId(lo);
  let hi = lo;
  for (let i = 1; i < ordered.length; i++) {
    const id = ordered[i]!;
    if (timeOfId(id) - loTime > RUN_MS) {
      keys.push([lo, hi]);
      lo = id;
      loTime = timeOfId(id);
    }
    hi = id;
  }
  keys.push([lo, hi]);
  return keys;
}

/** A key cursor over an `id` index, as idb gives it: continue() resolves to the cursor moved on, or null at the end. */
interface IdCursor {
  key: unknown;
  primaryKey: PageKey;
  continue(): Promise<IdCursor | null>;
}

/** The part of an `id` index (pages' or pageIndex's, through idb) that a lookup uses. */
export interface IdIndex {
  count(range: IDBKeyRange): Promise<number>;
  getKey(query: string): Promise<PageKey | undefined>;
  openKeyCursor(range: IDBKeyRange): Promise<IdCursor | null>;
}

/**
 * Where each of `ids` may be stored, by one `id` index: for each id, the keys
 * of the records (a page, or a commit's first page) whose entries cover it.
 * An id covered by a run may not be stored after all: the caller reads the
 * records and looks. Ids made here are new, so a batch of them usually lies
 * past every stored id: then one count and one short walk prove it.
 */
export async function findIdCandidates(index: IdIndex, ids: readonly string[]): Promise<Map<string, PageKey[]>> {
  const found = new Map<string, PageKey[]>();
  if (ids.length === 0) return found;
  const add = (id: string, key: PageKey) => {
    const keys = found.get(id);
    if (keys) keys.push(key);
    else found.set(id, [key]);
  };
  let min = ids[0]!;
  let max = ids[0]!;
  const ordered: string[] = [];
  for (const id of ids) {
    if (id < min) min = id;
    if (id > max) max = id;
    if (isOrderedId(id)) ordered.push(id);
  }
  const exact = async () => {
    // String bounds: only entries that are single ids (runs are arrays, which sort after strings).
    if ((await index.count(IDBKeyRange.bound(min, max))) === 0) return;
    const keys = await Promise.all(ids.map((id) => index.getKey(id)));
    ids.forEach((id, i) => {
      const key = keys[i];
      if (key) add(id, key);
    });
  };
  const runs = async () => {
    if (ordered.length === 0) return;
    ordered.sort();
    const first = ordered[0]!;
    const lastId = ordered[ordered.length - 1]!;
    // Runs [lo, hi] with lo in [first's time - RUN_MS, lastId]: every run that may hold one of them.
    const range = IDBKeyRange.bound([prefixAt(timeOfId(first) - RUN_MS)], [lastId, []]);
    let cursor = await index.openKeyCursor(range);
    while (cursor) {
      const [lo, hi] = cursor.key as [string, string];
      if (hi >= first) {
        for (let i = lowerBound(ordered, lo); i < ordered.length && ordered[i]! <= hi; i++) add(ordered[i]!, cursor.primaryKey);
      }
      cursor = await cursor.continue();
    }
  };
  await Promise.all([exact(), runs()]);
  return found;
}

/** The index of the first element of `sorted` not below `value` (its length when every one is). */
export function lowerBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
