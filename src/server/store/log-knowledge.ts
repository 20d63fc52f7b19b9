/**
 * What one process knows of the logs it writes, so that it can judge pushes
 * without reading (the fast path of sql-log-store.ts), and when it must not:
 *
 * - Per log, the marks, epochs and aggregate heads it read or wrote, as of a
 *   head and a write id. Every write to a log moves its head (a push that stores
 *   nothing writes nothing) and every fence changes its write id, so while the
 *   log row under the lock still holds both, all of this is still true; a write
 *   checks exactly that.
 * - Logs that another process writes too, or whose fast write just failed:
 *   until a deadline they take the slow path, which waits for the lock instead
 *   of betting on what this process knows.
 */

export interface LogCache {
  head: number;
  /** The log row's write id as of `head` (null: none recorded). */
  writeId: string | null;
  /** The ticket of this process's last write to the log, when the cache is what that write leaves. */
  ticket: number | null;
  marks: Map<string, number>;
  epochs: Map<string, number>;
  heads: Map<string, number>;
}

/** A write of this process: its id (stored as the log's write_id) and its ticket (see statements.ts, writeSql). */
export interface WriteTicket {
  id: string;
  ticket: number;
}

/** Logs kept, most recently used last. */
const MAX_CACHED_LOGS = 64;
/**
 * Keys (marks and heads) kept over all logs together, as a multiple of one
 * log's bound: with the per-log bound alone, 64 logs of tens of thousands of
 * aggregates each held hundreds of MB. The least recently used logs go first.
 */
const TOTAL_KEYS_PER_LOG_BOUND = 4;
/** How long a log another process writes stays on the slow path after its notification. */
const CONTENDED_MS = 10_000;
/** How long a log stays on the slow path after its first failed fast write (doubled with each further one). */
const FAILED_MS = 250;

export function createLogKnowledge(maxCachedKeys = 50_000) {
  const caches = new Map<string, LogCache>();
  const maxTotalKeys = maxCachedKeys * TOTAL_KEYS_PER_LOG_BOUND;
  const keysOf = (cache: LogCache): number => cache.marks.size + cache.heads.size;

  /** Drops the least recently used logs (never `keep`) until the count and the keys are within bounds. */
  const evict = (keep: string): void => {
    let total = 0;
    for (const cache of caches.values()) total += keysOf(cache);
    for (const [log, cache] of caches) {
      if (caches.size <= MAX_CACHED_LOGS && total <= maxTotalKeys) break;
      if (log === keep) continue;
      caches.delete(log);
      total -= keysOf(cache);
    }
  };

  /** Write ids: unique per write (this store's random id, then a counter); tickets: 32 bits of one. */
  const writerId = globalThis.crypto.randomUUID();
  const ticketBase = globalThis.crypto.getRandomValues(new Int32Array(1))[0]!;
  let writeCount = 0;

  const contended = new Map<string, number>();
  /**
   * Per log, fast writes that failed since the last one that succeeded. A failed
   * fast write sends the log to the slow path for FAILED_MS, doubled with each
   * further failure up to CONTENDED_MS: a failure of this process's own chain
   * (a write that ran ahead of the one it was judged behind) costs little, and a
   * log that keeps failing (another process writes it and its notifications do
   * not arrive) soon stays on the slow path. Writes that fail together (the
   * ones in flight behind a failed write fail with it) count once.
   */
  const failures = new Map<string, number>();

  const contend = (log: string, ms = CONTENDED_MS): void => {
    contended.delete(log);
    contended.set(log, Date.now() + ms);
    if (contended.size > 1000) contended.delete(contended.keys().next().value!);
  };

  const knowledge = {
    writerId,

    get(log: string): LogCache | undefined {
      return caches.get(log);
    },

    forget(log: string): void {
      caches.delete(log);
    },

    clear(): void {
      caches.clear();
    },

    nextWrite(): WriteTicket {
      writeCount++;
      return { id: `${writerId}:${writeCount}`, ticket: (ticketBase + writeCount) | 0 };
    },

    /**
     * Records what a batch read or wrote: marks, epochs and heads as of `head`
     * and `writeId`. What was known before stays only if it was known as of
     * `basedOn` (the head the batch was judged against): nothing else can have
     * changed in between.
     */
    remember(
      log: string,
      basedOn: number,
      state: { head: number; writeId: string | null; marks: Map<string, number>; epochs: Map<string, number>; heads: Map<string, number> },
      ticket: number | null,
    ): void {
      let cache = caches.get(log);
      caches.delete(log);
      if (!cache || cache.head !== basedOn) {
        cache = { head: state.head, writeId: null, ticket: null, marks: new Map(), epochs: new Map(), heads: new Map() };
      }
      cache.head = state.head;
      cache.writeId = state.writeId;
      cache.ticket = ticket;
      for (const [k, v] of state.marks) cache.marks.set(k, v);
      for (const [k, v] of state.epochs) cache.epochs.set(k, v);
      for (const [k, v] of state.heads) cache.heads.set(k, v);
      if (cache.marks.size + cache.heads.size > maxCachedKeys) {
        cache.marks.clear();
        cache.epochs.clear();
        cache.heads.clear();
      }
      caches.set(log, cache);
      evict(log);
    },

    /** Another process writes this log: use the slow path for a while. */
    contend,

    /** A fast write to the log failed (see `failures`). */
    failed(log: string): void {
      if (knowledge.isContended(log)) return;
      const count = (failures.get(log) ?? 0) + 1;
      failures.delete(log);
      failures.set(log, count);
      if (failures.size > 1000) failures.delete(failures.keys().next().value!);
      contend(log, Math.min(CONTENDED_MS, FAILED_MS * 2 ** (count - 1)));
    },

    /** A fast write to the log succeeded. */
    succeeded(log: string): void {
      failures.delete(log);
    },

    isContended(log: string): boolean {
      const until = contended.get(log);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      contended.delete(log);
      return false;
    },
  };
  return knowledge;
}
export type LogKnowledge = ReturnType<typeof createLogKnowledge>;
