import { aggregateRuntime, type AnyAggregateDefinition, type RebaseDecisionInput } from '../core/aggregate.ts';
import type { EncryptionOptions, EncryptionSettings, Keyring } from '../core/encryption.ts';
import { ConfigError, EventTooLargeError, UnserializableDataError, ValidationError } from '../core/errors.ts';
import { isHeaderToken, isHttpUrl, isLogName, showName } from '../core/text-rules.ts';
import { describeThrown } from '../core/thrown.ts';
import type { StoredEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import type { RebaseConflict, RebaseDecision } from '../../worker/contract.ts';
import { readStream, snapshotFits, snapshotState } from './aggregate-loader.ts';
import { checkIdList, describeArgument } from './argument-checks.ts';
import { decodeEvent } from './log-events.ts';
import type { ChangeHub } from './change-hub.ts';
import type { EngineConnection } from './connection.ts';
import type { SyncHandle, SyncOptions } from './sync-types.ts';

export type { SyncStatus, EventOutcome, EventSyncState, RejectedRecord, SyncOptions, SyncHandle } from './sync-types.ts';

function toDecision(input: RebaseDecisionInput): RebaseDecision {
  if (input === 'keep') return { action: 'keep' };
  if (input === 'drop') return { action: 'drop' };
  if (typeof input === 'object' && input !== null && 'drop' in input) return { action: 'drop', reason: String(input.drop) };
  if (typeof input === 'object' && input !== null && 'transform' in input) return { action: 'transform', data: input.transform };
  throw new ConfigError(
    `A rebase rule returned ${JSON.stringify(input)}; expected 'keep', 'drop', { drop: reason } or { transform: data }`,
  );
}

/**
 * A transform's data must be what an append of its type accepts (invariant 6):
 * parsed by the event's schema (defaults filled), plain JSON, within the size
 * limit. Data that is not turns the transform into a drop with the reason, as
 * a rule that throws does: the event is kept among the rejected ones and says
 * why, rather than stored invalid or failing every round. The size is counted
 * with what the event keeps (its id, meta and stream), as the server will.
 */
function checkTransform(registry: Registry, stored: StoredEvent, decision: RebaseDecision): RebaseDecision {
  if (decision.action !== 'transform') return decision;
  try {
    // The event as it will be pushed: its id, type and meta, the new data, in its stream.
    const [encoded] = registry.encode([{ ...stored, data: decision.data }], undefined, stored);
    // The body is `"type",version,data,occurredAt`: the data as an append would store it.
    const [, version, data] = JSON.parse(`[${encoded!.body}]`) as [string, number, unknown];
    return { action: 'transform', data, version };
  } catch (error) {
    return { action: 'drop', reason: `the rebase rule's transform is not a valid ${stored.type}: ${refusalOf(error)}` };
  }
}

/** Why encode refused a transform's data, in the reason's words (its field; not the index it would name in a batch). */
function refusalOf(error: unknown): string {
  if (error instanceof ValidationError || error instanceof UnserializableDataError) return `${error.path}: ${error.reason}`;
  if (error instanceof EventTooLargeError) return `${error.bytes} bytes, over the limit of ${error.limit}`;
  // Anything else an app's schema threw (its transform may throw anything): said whatever it is.
  return describeThrown(error);
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
      decisions.push(...(await decideConflict(connection, registry, aggregate, conflict)));
    }
    return decisions;
  };
}

/**
 * One aggregate's decisions: its state folded from the server's events, then each pending event asked of
 * the rule and folded in as decided. A reducer that throws on the way leaves no state to ask the rule
 * with: that event and the aggregate's later ones are kept as they are (the default without a rule), so a
 * bug in a reducer neither stops the sync of the whole store nor costs the user an offline edit.
 */
async function decideConflict(
  connection: EngineConnection,
  registry: Registry,
  aggregate: ReturnType<typeof aggregateRuntime>,
  conflict: RebaseConflict,
): Promise<[string, RebaseDecision][]> {
  const rebase = aggregate.rebase!;
  const decisions: [string, RebaseDecision][] = [];
  let state = aggregate.initialState();
  // Over compacted history, the server's events start after the aggregate's compaction base.
  const { base } = await connection.engine.readSnapshotAndTail(conflict.aggregateId, 0);
  const usable = snapshotFits(base, aggregate);
  if (usable) state = snapshotState(base);
  // From an explicit seq: an unusable base makes this HistoryCompactedError, never a wrong state.
  const fromSeq = usable ? base.seq + 1 : 1;
  // Events it cannot read (a newer version, an upcast that fails) are folded without, as the README says.
  const serverEvents = readStream(connection, registry, conflict.aggregateId, {
    fromSeq,
    toSeq: conflict.confirmedHead,
    upcastFailures: 'unreadable',
  });
  const keepFrom = (index: number): [string, RebaseDecision][] => [
    ...decisions,
    ...conflict.pending.slice(index).map((stored): [string, RebaseDecision] => [stored.id, { action: 'keep' }]),
  ];
  for await (const event of serverEvents) {
    if (event.position === undefined) continue; // a colliding pending event, not the server's
    const reducer = event.known ? aggregate.reducers[event.type] : undefined;
    try {
      if (reducer) state = reducer(state, event);
    } catch {
      return keepFrom(0);
    }
  }
  for (const [index, stored] of conflict.pending.entries()) {
    // One it cannot read is kept as it is (the decision below), whatever the reason.
    const event = decodeEvent(registry, stored, true, 'unreadable');
    let decision: RebaseDecision;
    try {
      decision = event.known ? checkTransform(registry, stored, toDecision(rebase(event, { state }))) : { action: 'keep' };
    } catch (error) {
      decision = { action: 'drop', reason: `the rebase rule threw: ${describeThrown(error)}` };
    }
    decisions.push([stored.id, decision]);
    if (decision.action === 'drop') continue;
    const kept = decision.action === 'transform' ? { ...event, data: decision.data } : event;
    const reducer = kept.known ? aggregate.reducers[kept.type] : undefined;
    try {
      if (reducer) state = reducer(state, kept);
    } catch {
      return keepFrom(index + 1);
    }
  }
  return decisions;
}

/** Every option `sync` takes: another key is a typo, or a function the worker could not be sent (DataCloneError). */
const SYNC_OPTION_KEYS: ReadonlySet<string> = new Set<keyof SyncOptions>([
  'url',
  'log',
  'token',
  'getToken',
  'pullLimit',
  'pushLimit',
  'live',
  'pollIntervalMs',
  'initialBackoffMs',
  'maxBackoffMs',
  'webSocket',
  'fetch',
  'encryption',
]);

export function checkSyncOptions(options: SyncOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('sync must be an object with a url');
  const unknown = Object.keys(options).find((key) => !SYNC_OPTION_KEYS.has(key));
  if (unknown !== undefined)
    throw new ConfigError(`sync.${unknown.slice(0, 40)} is not a sync option; they are ${[...SYNC_OPTION_KEYS].join(', ')}`);
  // Called later, in the sync's rounds: a non-function there would fail every round with a TypeError.
  for (const key of ['getToken', 'webSocket', 'fetch'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function')
      throw new ConfigError(`sync.${key} must be a function (got ${describeArgument(options[key])})`);
  }
  if (options.live !== undefined && typeof options.live !== 'boolean') throw new ConfigError('sync.live must be a boolean');
  if (!isHttpUrl(options.url)) {
    throw new ConfigError('sync.url must be an http(s) URL', { url: options.url });
  }
  checkServerUrl(options.url);
  if (options.log !== undefined && !isLogName(options.log)) {
    throw new ConfigError(
      `sync.log must be a log name: 1 to 64 letters, digits, ".", "_" and "-", starting with a letter or digit (got ${showName(options.log)})`,
      { log: typeof options.log === 'string' ? options.log : String(typeof options.log) },
    );
  }
  if (options.token !== undefined && !isHeaderToken(options.token)) {
    throw new ConfigError(
      'sync.token must be a non-empty string of printable ASCII characters (it is sent as "Authorization: Bearer <token>")',
    );
  }
  for (const key of ['pullLimit', 'pushLimit', 'pollIntervalMs', 'initialBackoffMs', 'maxBackoffMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new ConfigError(`sync.${key} must be a positive integer`);
  }
  if (options.encryption !== undefined) checkEncryptionOptions(options.encryption);
}

/**
 * The server's base URL, to which the client adds /v1/logs/<log>/...: a query
 * or fragment would end up inside the path of every request (404s that look
 * like a missing server), and credentials in it are dropped or refused by
 * fetch (OFFLINE, as if unreachable). Both are refused here, by name.
 */
function checkServerUrl(url: string): void {
  if (/[?#]/.test(url)) throw new ConfigError("sync.url must be the server's base URL, without a query or fragment", { url });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('sync.url must be an http(s) URL', { url });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError('sync.url must not hold credentials: give a token (sync.token or sync.getToken) instead', {
      url: `${parsed.protocol}//${parsed.host}${parsed.pathname}`,
    });
  }
}

function checkEncryptionOptions(encryption: EncryptionOptions): void {
  if (typeof encryption !== 'object' || encryption === null) throw new ConfigError('sync.encryption must be an object with keys');
  const { keys } = encryption;
  if (typeof keys !== 'function' && (typeof keys !== 'object' || keys === null)) {
    throw new ConfigError('sync.encryption.keys must be a keyring ({ current, keys }) or a function of the log returning one');
  }
  for (const flag of ['hashAggregateIds', 'acceptPlaintext'] as const) {
    if (encryption[flag] !== undefined && typeof encryption[flag] !== 'boolean')
      throw new ConfigError(`sync.encryption.${flag} must be a boolean`);
  }
}

/**
 * Splits `sync.encryption` into what crosses to the engine as plain data (the
 * settings) and the keys, which the engine asks for through a callback (so a
 * keyring given as a function is called in the page, with the log's name).
 */
export function splitEncryption(encryption: EncryptionOptions | undefined): {
  settings: { encryption?: EncryptionSettings };
  encryptionKeys: (log: string) => Promise<Keyring | undefined>;
} {
  const encryptionKeys = async (log: string): Promise<Keyring | undefined> => {
    if (!encryption) return undefined;
    return typeof encryption.keys === 'function' ? await encryption.keys(log) : encryption.keys;
  };
  if (!encryption) return { settings: {}, encryptionKeys };
  const settings: EncryptionSettings = {};
  if (encryption.hashAggregateIds !== undefined) settings.hashAggregateIds = encryption.hashAggregateIds;
  if (encryption.acceptPlaintext !== undefined) settings.acceptPlaintext = encryption.acceptPlaintext;
  return { settings: { encryption: settings }, encryptionKeys };
}

/** The store's `sync` handle: the engine's sync, with listeners on the store's change hub. */
export function createSyncHandle(connection: EngineConnection, hub: ChangeHub): SyncHandle {
  const { engine } = connection;
  return {
    status: () => engine.syncStatus(),
    subscribe(listener) {
      let subscribed = true;
      // A status asked for before the unsubscribe may answer after it: not told then (a component that unmounted).
      const tell = (): void =>
        void engine.syncStatus().then(
          (status) => subscribed && listener(status),
          () => undefined,
        );
      tell();
      const unwatch = hub.watch((change) => {
        if (change.kind === 'sync' || change.kind === 'appended' || change.kind === 'confirmed') tell();
      });
      return () => {
        subscribed = false;
        unwatch();
      };
    },
    onOutcome(listener) {
      return hub.watch((change) => {
        if (change.kind === 'outcomes') listener(change.outcomes);
      });
    },
    syncNow: () => engine.syncNow(),
    pause: () => engine.pauseSync(),
    resume: () => engine.resumeSync(),
    rejected: () => engine.rejectedEvents(),
    async dismissRejected(ids) {
      checkIdList(ids, 'ids');
      return engine.dismissRejected(ids);
    },
    async outcomeOf(ids) {
      if (ids === undefined) throw new ValidationError('?', 'ids', 'must be an array of event ids');
      checkIdList(ids, 'ids');
      return engine.eventSyncStates(ids);
    },
  };
}
