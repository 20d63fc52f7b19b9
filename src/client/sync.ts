import { aggregateRuntime, type AnyAggregateDefinition, type RebaseDecisionInput } from '../core/aggregate.ts';
import { ConfigError } from '../core/errors.ts';
import type { Registry } from '../core/registry.ts';
import type { RejectedRecord } from '../../worker/db.ts';
import type { RebaseConflict, RebaseDecision } from '../../worker/rebase.ts';
import type { SyncConfig, WebSocketFactory } from '../../worker/sync/sync-engine.ts';
import type { EventOutcome, SyncStatus } from '../../worker/types.ts';
import { readStream } from './aggregate-loader.ts';
import type { EngineConnection } from './connection.ts';

export type { SyncStatus, EventOutcome, RejectedRecord };

export interface SyncOptions extends SyncConfig {
  /** Called before each request for a fresh bearer token (instead of a fixed `token`). */
  getToken?: () => string | undefined | Promise<string | undefined>;
  /** In-process only (e.g. Node 20, which has no WebSocket): opens the live channel, e.g. `(url) => new WebSocket(url)` from 'ws'. */
  webSocket?: WebSocketFactory;
  /** In-process only: the fetch to use. */
  fetch?: typeof fetch;
}

export interface SyncHandle {
  /** Where sync stands: online / offline / syncing / paused / error, pending count, positions, last error. */
  status(): Promise<SyncStatus>;
  /** Calls back with the status now and at every change (in any tab). */
  subscribe(listener: (status: SyncStatus) => void): () => void;
  /** Calls back when pending events end confirmed, rebased or rejected. */
  onOutcome(listener: (outcomes: EventOutcome[]) => void): () => void;
  /** One full round now (pull, push, rebase); rejects with the reason if it fails. */
  syncNow(): Promise<void>;
  /** Stops talking to the server (an app's offline switch); appends keep working locally. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Pending events the server refused or a rebase rule dropped: kept here, never silently lost. */
  rejected(): Promise<RejectedRecord[]>;
  /** Forgets rejected events the app has shown or handled (all of them when no ids are given). */
  dismissRejected(ids?: string[]): Promise<void>;
}

function toDecision(input: RebaseDecisionInput): RebaseDecision {
  if (input === 'keep') return { action: 'keep' };
  if (input === 'drop') return { action: 'drop' };
  if (typeof input === 'object' && input !== null && 'drop' in input) return { action: 'drop', reason: String(input.drop) };
  if (typeof input === 'object' && input !== null && 'transform' in input) return { action: 'transform', data: input.transform };
  throw new ConfigError(`A rebase rule returned ${JSON.stringify(input)}; expected 'keep', 'drop', { drop: reason } or { transform: data }`);
}

/**
 * Runs the aggregates' rebase rules for a conflict. Each rule sees the state
 * as of the server's events plus the pending events kept so far, so it can
 * judge an edit against what others did meanwhile.
 */
export function createDecider(
  connection: EngineConnection,
  registry: Registry,
  aggregates: readonly AnyAggregateDefinition[],
): (conflicts: RebaseConflict[]) => Promise<[string, RebaseDecision][]> {
  const byType = new Map(aggregates.map((a) => [a.type, aggregateRuntime(a)]));
  return async (conflicts) => {
    const decisions: [string, RebaseDecision][] = [];
    for (const conflict of conflicts) {
      const aggregate = byType.get(conflict.aggregateType);
      if (!aggregate?.rebase) continue; // default: keep every event
      let state = aggregate.initialState();
      for await (const event of readStream(connection, registry, conflict.aggregateId, { toSeq: conflict.confirmedHead })) {
        if (event.position === undefined) continue; // a colliding pending event, not the server's
        const reducer = event.known ? aggregate.reducers[event.type] : undefined;
        if (reducer) state = reducer(state, event);
      }
      for (const stored of conflict.pending) {
        const event = registry.decode(stored);
        let decision: RebaseDecision;
        try {
          decision = event.known ? toDecision(aggregate.rebase(event, { state })) : { action: 'keep' };
        } catch (error) {
          decision = { action: 'drop', reason: `the rebase rule threw: ${String(error)}` };
        }
        decisions.push([stored.id, decision]);
        if (decision.action === 'drop') continue;
        const kept = decision.action === 'transform' ? { ...event, data: decision.data } : event;
        const reducer = kept.known ? aggregate.reducers[kept.type] : undefined;
        if (reducer) state = reducer(state, kept);
      }
    }
    return decisions;
  };
}

export function checkSyncOptions(options: SyncOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('sync must be an object with a url');
  if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
    throw new ConfigError('sync.url must be an http(s) URL', { url: options.url });
  }
  for (const key of ['pullLimit', 'pushLimit', 'pollIntervalMs', 'initialBackoffMs', 'maxBackoffMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new ConfigError(`sync.${key} must be a positive integer`);
  }
}
