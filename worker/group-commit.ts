import { StoreClosedError } from '../src/core/errors.ts';
import { uuidv7 } from '../src/core/ids.ts';
import { commitAppendGroup, type AppendGroupResult } from './append.ts';
import type { ChronicleDB } from './db.ts';
import type { AppendDurability } from './durability.ts';
import type { StateCache } from './state-cache.ts';
import type { AppendOutcome, AppendRequest } from './types.ts';

interface QueuedAppend {
  request: AppendRequest;
  resolve(outcome: AppendOutcome): void;
  reject(error: unknown): void;
}

export interface GroupCommitDeps {
  name: string;
  run<T>(operation: string, fn: (db: ChronicleDB) => Promise<T>): Promise<T>;
  cache: StateCache;
  /** How a group's transaction commits (openStore's `durability`). */
  durability: AppendDurability;
  /** A commit wrote events (tell listeners and the sync). */
  written(result: AppendGroupResult): void;
}

export interface GroupCommit {
  append(request: AppendRequest): Promise<AppendOutcome>;
  appendBatch(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  /** Refuses new appends and resolves once the accepted ones have committed (or failed). */
  drain(): Promise<void>;
}

/**
 * Appends that arrive while a transaction runs share the next one (group
 * commit): the cost of IndexedDB is per transaction, so a burst of small
 * appends becomes a few transactions. Each call stays all-or-nothing.
 */
export function createGroupCommit(deps: GroupCommitDeps): GroupCommit {
  const queue: QueuedAppend[] = [];
  // A flag, not the flush's promise: a caller resumed by one group's reply may
  // append again before that promise settles, and must start the next flush.
  let flushing = false;
  let idle: (() => void) | undefined;
  let closed = false;

  const flush = async () => {
    flushing = true;
    while (queue.length > 0) {
      const group = queue.splice(0, queue.length);
      try {
        const result = await deps.run('append', (db) =>
          commitAppendGroup(
            db,
            group.map((q) => q.request),
            { atomic: false, newClientId: uuidv7, cache: deps.cache, durability: deps.durability },
          ),
        );
        result.outcomes.forEach((outcome, i) => {
          if (outcome instanceof Error) group[i]!.reject(outcome);
          else group[i]!.resolve(outcome);
        });
        if (result.written > 0) deps.written(result);
      } catch (error) {
        // The transaction failed as a whole: nothing of the group was written.
        for (const q of group) q.reject(error);
      }
    }
    flushing = false;
    idle?.();
  };

  return {
    append(request) {
      return new Promise<AppendOutcome>((resolve, reject) => {
        if (closed) return reject(new StoreClosedError(deps.name));
        queue.push({ request, resolve, reject });
        if (!flushing) void flush();
      });
    },
    async appendBatch(requests) {
      if (closed) throw new StoreClosedError(deps.name);
      const result = await deps.run('appendBatch', (db) =>
        commitAppendGroup(db, requests, { atomic: true, newClientId: uuidv7, cache: deps.cache, durability: deps.durability }),
      );
      if (result.written > 0) deps.written(result);
      return result.outcomes as AppendOutcome[];
    },
    async drain() {
      closed = true;
      if (flushing) await new Promise<void>((resolve) => (idle = resolve));
    },
  };
}
