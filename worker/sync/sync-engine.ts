import { ChronicleError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { DEFAULT_LIMITS } from '../../src/core/protocol.ts';
import type { ChronicleDB } from '../db.ts';
import { ingestConfirmed } from '../ingest.ts';
import { readPendingEvents } from '../pending.ts';
import { applyRebase, planRebase, renumberPending, StalePlanError, type RebaseConflict, type RebaseDecision } from '../rebase.ts';
import type { Change, EventOutcome, SyncStatus } from '../types.ts';
import { requestLeaderLock } from './leader-lock.ts';
import { createTransport, OfflineError, SyncHttpError, type Transport } from './transport.ts';

/** Options that cross the worker boundary as plain data. */
export interface SyncConfig {
  /** The server's base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  /** The log (tenant) to sync with; default "default". */
  log?: string;
  /** A fixed bearer token (or supply getToken in the callbacks). */
  token?: string;
  /** Events per pull page; default 1000. */
  pullLimit?: number;
  /** Events per push; default 500. */
  pushLimit?: number;
  /** Follow the server's head over a WebSocket; default true. */
  live?: boolean;
  /** Poll this often even without live news; default 30 s. */
  pollIntervalMs?: number;
  /** First retry delay after a failure; doubles up to maxBackoffMs, with jitter. Default 500 ms / 30 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Functions the sync needs from the app side (main-thread proxies in worker mode). */
export interface SyncCallbacks {
  getToken?: () => string | undefined | Promise<string | undefined>;
  /** Decides keep / drop / transform for the pending events of conflicting aggregates. */
  decide?: (conflicts: RebaseConflict[]) => Promise<[string, RebaseDecision][]>;
}

type WebSocketLike = {
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(): void;
};
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface SyncDeps {
  name: string;
  clientId: string;
  getDb(): Promise<ChronicleDB>;
  publish(change: Change): void;
  /** In-process only: how to open a WebSocket where the platform has none (Node 20). */
  webSocket?: WebSocketFactory;
  fetch?: typeof fetch;
}

export interface SyncRunner {
  status(): SyncStatus;
  /** Wakes the loop (after a local append, a live head move, going online). */
  trigger(): void;
  /** Runs one full round now and resolves when it finished (or failed). */
  syncNow(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const MAX_ROUND_STEPS = 10_000;

function isOnline(): boolean {
  return typeof navigator === 'undefined' || (navigator as { onLine?: boolean }).onLine !== false;
}

/**
 * The sync loop: pull what the server has, push what is pending, rebase on
 * conflicts, and repeat when something changes. Only one tab per store runs
 * it (a Web Lock); the others stay on standby and see its results through the
 * shared database and the change feed.
 */
export function createSyncRunner(deps: SyncDeps, config: SyncConfig, callbacks: SyncCallbacks = {}): SyncRunner {
  const log = config.log ?? 'default';
  const pullLimit = Math.min(config.pullLimit ?? 1000, DEFAULT_LIMITS.maxPullLimit);
  let pushLimit = Math.min(config.pushLimit ?? 500, DEFAULT_LIMITS.maxEventsPerPush);
  const initialBackoff = config.initialBackoffMs ?? 500;
  const maxBackoff = config.maxBackoffMs ?? 30_000;
  const transport: Transport = createTransport({
    url: config.url,
    log,
    token: async () => (callbacks.getToken ? await callbacks.getToken() : config.token),
    fetch: deps.fetch,
  });

  const status: SyncStatus = {
    state: 'standby',
    leader: false,
    pending: 0,
    confirmedPosition: 0,
    serverHead: 0,
    lastSyncAt: null,
    lastError: null,
    progress: null,
  };
  let stopped = false;
  let paused = false;
  let wake: (() => void) | undefined;
  let dirty = true;
  let failures = 0;
  let socket: WebSocketLike | undefined;
  let socketRetry: ReturnType<typeof setTimeout> | undefined;
  let socketFailures = 0;
  const roundWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  let releaseLock: (() => void) | undefined;
  let loopDone: Promise<void> | undefined;

  const setStatus = (patch: Partial<SyncStatus>) => {
    Object.assign(status, patch);
    deps.publish({ kind: 'sync', status: { ...status } });
  };

  const refreshCounts = async () => {
    const db = await deps.getDb();
    const meta = await db.get('meta', 'client');
    if (meta) Object.assign(status, { pending: meta.pendingEvents, confirmedPosition: meta.confirmedHead });
  };

  // ---- one round: pull, push, handle refusals, until nothing is left to do
  const rebaseIfNeeded = async (aggregates?: readonly string[]): Promise<void> => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const db = await deps.getDb();
      const plan = await planRebase(db, aggregates);
      if (plan.conflicts.length === 0) return;
      const decided = callbacks.decide ? await callbacks.decide(plan.conflicts) : [];
      try {
        const outcomes = await applyRebase(db, plan, new Map(decided));
        deps.publish({ kind: 'rebased', aggregates: plan.conflicts.map((c) => c.aggregateId) });
        deps.publish({ kind: 'appended', aggregates: plan.conflicts.map((c) => [c.aggregateId, 0]), count: 0 });
        if (outcomes.length > 0) deps.publish({ kind: 'outcomes', outcomes });
        return;
      } catch (error) {
        if (!(error instanceof StalePlanError)) throw error;
      }
    }
    throw new ChronicleError('REBASE_FAILED', 'Could not rebase: the log kept changing');
  };

  const pullAll = async (): Promise<void> => {
    const db = await deps.getDb();
    let target = 0;
    let pulled = 0;
    for (let step = 0; step < MAX_ROUND_STEPS; step++) {
      const meta = await db.get('meta', 'client');
      const after = meta?.confirmedHead ?? 0;
      const page = await transport.pull(after, pullLimit);
      target = Math.max(target, page.head);
      status.serverHead = page.head;
      if (page.events.length > 0) {
        const result = await ingestConfirmed(db, page.events);
        pulled += result.stored;
        if (result.stored > 0) {
          deps.publish({ kind: 'appended', aggregates: result.moved, count: result.stored });
          deps.publish({ kind: 'confirmed', head: result.head, count: result.stored });
        }
        if (result.confirmed.length > 0) {
          const outcomes: EventOutcome[] = result.confirmed.map((c) => ({
            id: c.id,
            aggregateId: c.aggregateId,
            type: c.type,
            status: 'confirmed',
            position: c.position,
            seq: c.seq,
          }));
          deps.publish({ kind: 'outcomes', outcomes });
        }
        if (result.touchedByOthers.length > 0 && (status.pending > 0 || (meta?.pendingEvents ?? 0) > 0)) {
          await rebaseIfNeeded(result.touchedByOthers);
        }
        if (page.hasMore) setStatus({ progress: { pulled, target }, confirmedPosition: result.head });
      }
      if (!page.hasMore) break;
    }
    if (status.progress) status.progress = null;
  };

  const rejectAndRenumber = async (reject: Map<string, { code: string; reason: string }>, from?: number) => {
    const db = await deps.getDb();
    let start = from;
    if (start === undefined) {
      const first = await readPendingEvents(db, 1, Infinity);
      start = first[0]?.meta.clientSeq ?? 1;
    }
    const { rejected } = await renumberPending(db, start, reject);
    if (rejected.length > 0) {
      deps.publish({
        kind: 'outcomes',
        outcomes: rejected.map((e) => ({
          id: e.id,
          aggregateId: e.aggregateId,
          type: e.type,
          status: 'rejected' as const,
          reason: reject.get(e.id)?.reason,
          previousSeq: e.seq,
        })),
      });
      deps.publish({ kind: 'appended', aggregates: rejected.map((e) => [e.aggregateId, 0]), count: 0 });
      // Later events of those aggregates now follow a hole: the next push conflicts and rebases them.
      await rebaseIfNeeded(rejected.map((e) => e.aggregateId));
    }
  };

  const pushPending = async (): Promise<boolean> => {
    const db = await deps.getDb();
    const events: StoredEvent[] = await readPendingEvents(db, pushLimit, DEFAULT_LIMITS.maxRequestBytes / 2);
    if (events.length === 0) return false;
    try {
      await transport.push(deps.clientId, events);
    } catch (error) {
      if (!(error instanceof SyncHttpError)) throw error;
      const details = error.details;
      switch (error.code) {
        case 'SEQ_CONFLICT':
          await pullAll();
          await rebaseIfNeeded();
          return true;
        case 'CLIENT_SEQ_GAP':
          await rejectAndRenumber(new Map(), Number(details.expected));
          return true;
        case 'CLIENT_SEQ_MISMATCH': {
          const page = await transport.pull(Number.MAX_SAFE_INTEGER - 1, 1, deps.clientId).catch(() => undefined);
          await pullAll();
          await rejectAndRenumber(new Map(), (page?.clientSeq ?? 0) + 1);
          return true;
        }
        case 'DUPLICATE_EVENT_ID': {
          const id = typeof details.id === 'string' ? details.id : typeof details.eventId === 'string' ? details.eventId : undefined;
          if (!id) throw error;
          await rejectAndRenumber(new Map([[id, { code: error.code, reason: error.message }]]));
          return true;
        }
        case 'PAYLOAD_TOO_LARGE':
        case 'BAD_REQUEST': {
          if (error.code === 'PAYLOAD_TOO_LARGE' && events.length > 1) {
            pushLimit = Math.max(1, Math.floor(events.length / 2));
            return true;
          }
          const path = Array.isArray(details.path) ? details.path : [];
          const index = path[0] === 'events' && typeof path[1] === 'number' ? path[1] : events.length === 1 ? 0 : -1;
          const culprit = events[index];
          if (!culprit) throw error;
          await rejectAndRenumber(new Map([[culprit.id, { code: error.code, reason: error.message }]]));
          return true;
        }
        default:
          throw error;
      }
    }
    // Pull right away: it brings our events back with their positions (confirmation).
    await pullAll();
    return true;
  };

  const round = async (): Promise<void> => {
    setStatus({ state: 'syncing' });
    await refreshCounts();
    await pullAll();
    await rebaseIfNeeded();
    for (let step = 0; step < MAX_ROUND_STEPS; step++) {
      await refreshCounts();
      if (!(await pushPending())) break;
    }
    await refreshCounts();
    const db = await deps.getDb();
    const syncRecord = { serverHead: status.serverHead, lastSyncAt: Date.now(), lastError: null };
    await db.put('sync', syncRecord, 'state');
    setStatus({ state: 'online', lastSyncAt: syncRecord.lastSyncAt, lastError: null, progress: null });
  };

  // ---- the live channel
  const openSocket = async () => {
    if (config.live === false || stopped || paused || socket) return;
    const factory: WebSocketFactory | undefined =
      deps.webSocket ??
      (typeof WebSocket === 'function' ? (url: string) => new WebSocket(url) as unknown as WebSocketLike : undefined);
    if (!factory) return;
    let ws: WebSocketLike;
    try {
      ws = factory(await transport.liveUrl());
    } catch {
      return scheduleSocket();
    }
    socket = ws;
    ws.onmessage = (event) => {
      socketFailures = 0;
      try {
        const message = JSON.parse(String(event.data)) as { type?: string; head?: number };
        if (typeof message.head === 'number') {
          status.serverHead = Math.max(status.serverHead, message.head);
          if (message.head > status.confirmedPosition) runner.trigger();
        }
      } catch {
        // Not ours to judge: a malformed live message only means no early wake-up.
      }
    };
    ws.onerror = () => undefined;
    ws.onclose = () => {
      if (socket === ws) socket = undefined;
      scheduleSocket();
    };
  };
  const scheduleSocket = () => {
    if (stopped || paused || socketRetry) return;
    socketFailures++;
    const delay = backoffDelay(socketFailures);
    socketRetry = setTimeout(() => {
      socketRetry = undefined;
      void openSocket();
    }, delay);
  };
  const closeSocket = () => {
    if (socketRetry) clearTimeout(socketRetry);
    socketRetry = undefined;
    const ws = socket;
    socket = undefined;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  };

  function backoffDelay(attempt: number): number {
    const ceiling = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(attempt - 1, 20));
    return ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
  }

  // ---- the loop
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /** Settles the callers of syncNow() that were waiting when this round began. */
  const settleWaiters = (waiters: typeof roundWaiters, error?: unknown) => {
    for (const w of waiters) (error ? w.reject(error) : w.resolve());
  };

  const loop = async () => {
    setStatus({ leader: true, state: paused ? 'paused' : 'syncing' });
    const db = await deps.getDb();
    const saved = await db.get('sync', 'state');
    if (saved) Object.assign(status, { serverHead: saved.serverHead, lastSyncAt: saved.lastSyncAt, lastError: saved.lastError });
    void openSocket();
    while (!stopped) {
      if (paused) {
        settleWaiters(roundWaiters.splice(0), new ChronicleError('SYNC_PAUSED', 'Sync is paused'));
        await sleep(60_000);
        continue;
      }
      if (!dirty) await sleep(failures > 0 ? backoffDelay(failures) : (config.pollIntervalMs ?? 30_000));
      if (stopped) break;
      if (paused) continue;
      dirty = false;
      // Callers arriving during this round wait for the next one: it is the one that sees their appends.
      const waiters = roundWaiters.splice(0);
      try {
        if (!isOnline()) throw new OfflineError('the browser is offline');
        await round();
        failures = 0;
        settleWaiters(waiters);
        if (!socket) void openSocket();
      } catch (error) {
        failures++;
        const e = error as { code?: string; message?: string };
        const lastError = { code: e.code ?? 'ERROR', message: e.message ?? String(error) };
        const state = error instanceof OfflineError || (error instanceof SyncHttpError && error.status >= 500) ? 'offline' : 'error';
        setStatus({ state, lastError, progress: null });
        await refreshCounts().catch(() => undefined);
        await deps
          .getDb()
          .then((d) => d.put('sync', { serverHead: status.serverHead, lastSyncAt: status.lastSyncAt, lastError }, 'state'))
          .catch(() => undefined);
        settleWaiters(waiters, error);
        if (error instanceof SyncHttpError && error.code === 'RATE_LIMITED' && typeof error.details.retryAfterMs === 'number') {
          await sleep(error.details.retryAfterMs);
        }
      }
    }
    closeSocket();
    setStatus({ leader: false, state: 'standby' });
  };

  const onOnline = () => runner.trigger();
  const scope = globalThis as { addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void };
  scope.addEventListener?.('online', onOnline);

  const runner: SyncRunner = {
    status: () => ({ ...status }),
    trigger() {
      dirty = true;
      failures = 0;
      wake?.();
    },
    syncNow() {
      return new Promise<void>((resolve, reject) => {
        if (stopped) return reject(new ChronicleError('SYNC_STOPPED', 'Sync is stopped'));
        if (paused) return reject(new ChronicleError('SYNC_PAUSED', 'Sync is paused'));
        if (!status.leader) return reject(new ChronicleError('SYNC_STANDBY', 'Another tab syncs this store; it will pick up the change'));
        roundWaiters.push({ resolve, reject });
        runner.trigger();
      });
    },
    pause() {
      paused = true;
      closeSocket();
      setStatus({ state: 'paused' });
    },
    resume() {
      if (!paused) return;
      paused = false;
      setStatus({ state: status.leader ? 'syncing' : 'standby' });
      runner.trigger();
      void openSocket();
    },
    async stop() {
      stopped = true;
      scope.removeEventListener?.('online', onOnline);
      closeSocket();
      wake?.();
      releaseLock?.();
      await loopDone?.catch(() => undefined);
    },
  };

  // Only one tab per store syncs: the one holding the lock. The others wait for it.
  requestLeaderLock(`chronicle-sync:${deps.name}`, () => {
    if (stopped) return undefined;
    loopDone = loop();
    return new Promise<void>((resolve) => {
      releaseLock = resolve;
      void loopDone!.finally(resolve);
    });
  });
  return runner;
}
