import type { MetaRecord } from './db.ts';

/** Heads kept at most; past this the cache starts over (it is only a shortcut). */
const MAX_HEADS = 50_000;

/** What the cache knew at one moment: the meta record as JSON and some stream heads of that same state. */
export interface KnownState {
  metaJson: string;
  /** Per aggregate asked for: its head in that state, or undefined when not known. */
  heads: (number | undefined)[];
  /** Whether compaction has dropped history in that state (then aggregates may have bases). */
  compacted: boolean;
}

/**
 * What one engine knows of the stored state between its own transactions:
 * the meta record exactly as last seen stored, and stream heads true for
 * that state. Every transaction that writes pages also writes meta (its
 * counters always move), so "meta is still byte-for-byte what we saw" proves
 * the heads are still true, whichever tab or engine wrote meanwhile.
 *
 * A user of the cache decides from a `lookup` and then confirms, inside its
 * own transaction, that the stored meta is still `metaJson`; if not, it
 * reads the real state. Values are copied out at lookup time, so a later
 * update never changes what a running transaction decided from.
 */
export class StateCache {
  private metaJson: string | undefined;
  private compacted = false;
  private heads = new Map<string, number>();
  /**
   * Every aggregate with events in that state has its head here (the cache
   * has followed the log since it was empty): an aggregate it does not hold
   * has none. Lost as soon as the state moves without the cache.
   */
  private complete = false;

  lookup(aggregateIds: readonly string[]): KnownState | undefined {
    if (this.metaJson === undefined) return undefined;
    const none = this.complete ? 0 : undefined;
    return { metaJson: this.metaJson, heads: aggregateIds.map((id) => this.heads.get(id) ?? none), compacted: this.compacted };
  }

  /** Meta and heads read together in one transaction; `empty`: meta says the log holds no event. */
  observe(meta: MetaRecord, heads: Iterable<readonly [string, number]>, empty = false): void {
    this.settle(meta, heads, false, empty);
  }

  /**
   * A transaction committed `meta` with these heads. `from` is the state it
   * started from, when that was the cached one: the other cached heads carry
   * over. `fromEmpty`: it started from a log with no event (read in it).
   */
  committed(meta: MetaRecord, heads: Iterable<readonly [string, number]>, from: string | undefined, fromEmpty = false): void {
    this.settle(meta, heads, from !== undefined && from === this.metaJson, fromEmpty);
  }

  forget(): void {
    this.metaJson = undefined;
    this.heads = new Map();
    this.complete = false;
  }

  private settle(meta: MetaRecord, heads: Iterable<readonly [string, number]>, carry: boolean, empty: boolean): void {
    const metaJson = JSON.stringify(meta);
    const given = [...heads];
    const kept = metaJson === this.metaJson || carry;
    if (!kept || this.heads.size + given.length > MAX_HEADS) {
      this.heads = new Map();
      this.complete = false;
    }
    if (empty) {
      // Nothing was stored before: the heads given are all there are.
      this.heads = new Map();
      this.complete = true;
    }
    this.metaJson = metaJson;
    this.compacted = meta.compaction !== undefined;
    for (const [id, head] of given) this.heads.set(id, head);
  }
}
