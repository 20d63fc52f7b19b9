import type { EncryptionSettings, Keyring } from '../../src/core/encryption.ts';
import { ChronicleError } from '../../src/core/errors.ts';
import { DEFAULT_LIMITS } from '../../src/core/protocol.ts';
import type { ChronicleDB, SyncEncryptionRecord, SyncRecord } from '../db.ts';
import type { RebaseConflict, RebaseDecision } from '../rebase.ts';
import { initialSyncStatus, type Change, type SyncStatus } from '../types.ts';
import { backoffDelay } from './backoff.ts';
import { grantSignal, leadershipComing, requestLeaderLock, type Withdraw } from './leader-lock.ts';
import { createLiveFollower, type WebSocketFactory } from './live-follow.ts';
import { lastErrorOf, noting, roundError } from './round-errors.ts';
import { createSyncRound } from './sync-round.ts';
import { withEncryption } from './encryption.ts';
import { createTransport, OfflineError, SyncHttpError, type Transport } from './transport.ts';

export type { WebSocketFactory } from './live-follow.ts';

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
  /** End-to-end encryption of payloads (worker/sync/encryption.ts); the keys come through SyncCallbacks.encryptionKeys. */
  encryption?: EncryptionSettings;
}

/** Functions the sync needs from the app side (main-thread proxies in worker mode). */
export interface SyncCallbacks {
  getToken?: () => string | undefined | Promise<string | undefined>;
  /** Decides keep / drop / transform for the pending events of conflicting aggregates. */
  decide?: (conflicts: RebaseConflict[]) => Promise<[string, RebaseDecision][]>;
  /** The log's keyring, when config.encryption is set. */
  encryptionKeys?: (log: string) => Promise<Keyring | undefined>;
}

export interface SyncDeps {
  name: string;
  clientId: string;
  getDb(): Promise<ChronicleDB>;
  publish(change: Change): void;
  /** In-process only: how to open a WebSocket where the platform has none (Node 20). */
  webSocket?: WebSocketFactory | undefined;
  fetch?: typeof fetch | undefined;
}

export interface SyncRunner {
  status(): SyncStatus;
  /** Runs a round now, failed rounds' backoff forgotten (going online, syncNow, resume). */
  trigger(): void;
  /**
   * Something to sync changed (a local append, another tab's, a live head move): a round soon, but
   * after a failed round's backoff, so a burst of appends while the server is down or answering 503
   * does not send a request each.
   */
  changed(): void;
  /** Runs one full round now and resolves when it finished (or failed). */
  syncNow(): Promise<void>;
  /** Sends nothing more; resolves once the round in flight, if any, has stopped (see SyncRound.run). */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

/** A sleep that wake() ends early (a trigger, a pause, a stop); wake() with no sleep under way does nothing. */
function createWakeableSleep() {
  let wakeSleeper: (() => void) | undefined;
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeSleeper = undefined;
          resolve();
        }
        wakeSleeper = done;
      }),
    wake: () => wakeSleeper?.(),
  };
}

/** Settles the callers of syncNow() that were waiting when a round began. */
function settleWaiters(waiters: readonly { resolve(): void; reject(e: unknown): void }[], error?: unknown): void {
  for (const w of waiters) {
    if (error) w.reject(error);
    else w.resolve();
  }
}

/** How long a failed request's reply asked to wait (Retry-After), at most `maxMs`; 0 when it did not say. */
function retryAfterOf(error: unknown, maxMs: number): number {
  const asked = error instanceof SyncHttpError ? Number(error.details.retryAfterMs) : NaN;
  return Number.isFinite(asked) && asked > 0 ? Math.min(asked, maxMs) : 0;
}

/**
 * How the live channel opens its socket: the one given (Node), else the platform's. With neither (Node 20
 * has no global WebSocket) the store would hear of other clients' events only when it polls, so it says so,
 * once, unless the live channel is turned off.
 */
function liveSocketFactory(given: WebSocketFactory | undefined, config: SyncConfig): WebSocketFactory | undefined {
  if (given) return given;
  if (typeof WebSocket === 'function') return (url: string) => new WebSocket(url) as unknown as ReturnType<WebSocketFactory>;
  if (config.live !== false) {
    console.warn(
      `chronicle: no WebSocket here for sync's live channel (Node 20 has none): pass sync.webSocket, e.g. (url) => new WebSocket(url) ` +
        `from the 'ws' package, or live: false; until then other clients' events arrive when the store polls (every ${config.pollIntervalMs ?? 30_000} ms)`,
    );
  }
  return undefined;
}

/** What a round halted by stop() or pause() gives the callers of syncNow() that waited for it. */
const haltError = (stopped: boolean): ChronicleError =>
  stopped ? new ChronicleError('SYNC_STOPPED', 'Sync is stopped') : new ChronicleError('SYNC_PAUSED', 'Sync is paused');

/**
 * A round that failed with haltError (`halting`: the loop is paused or stopped) ended as a round halted
 * between steps does: its wait for the app was ended (waitsEnd in createSyncRunner), it did not fail. Else the error.
 */
function haltedOr(error: unknown, halting: boolean): 'halted' {
  const halt = error instanceof ChronicleError && !(error instanceof SyncHttpError) && ['SYNC_PAUSED', 'SYNC_STOPPED'].includes(error.code);
  if (halting && halt) return 'halted';
  throw error;
}

function isOnline(): boolean {
  return typeof navigator === 'undefined' || (navigator as { onLine?: boolean }).onLine !== false;
}

/** push, pull and fence over HTTP to the configured log, encrypting and decrypting events when the config asks. */
function syncTransport(
  deps: SyncDeps,
  config: SyncConfig,
  callbacks: SyncCallbacks,
  waitsEnd: () => AbortSignal,
  requestsEnd: AbortSignal,
): Transport {
  const log = config.log ?? 'default';
  const plain = createTransport({
    url: config.url,
    log,
    token: async () => (callbacks.getToken ? await callbacks.getToken() : config.token),
    fetch: deps.fetch,
    stopping: requestsEnd,
  });
  if (config.encryption) return withEncryption(plain, log, config.encryption, callbacks.encryptionKeys, waitsEnd);
  const encryptedBefore = async () => (await deps.getDb()).get('sync', 'encryption') as Promise<SyncEncryptionRecord | undefined>;
  return withEncryption(plain, log, undefined, undefined, waitsEnd, encryptedBefore);
}

/**
 * Run by a tab that takes the sync lock: the tab that held it before may have died between a commit (a pull's
 * ingest) and telling the other tabs, which the change feed does a task later. Every tab looks at the log
 * again, or a reaction, projection or log tail in another tab would wait for the next change to see those
 * events; and every aggregate subscription loads its aggregate again ('reset': which aggregates that commit
 * touched is not known here), which tells its listener only if the version moved
 * (test/sync/crash-audit.test.ts).
 */
async function askTabsToLookAgain(db: ChronicleDB, publish: (change: Change) => void): Promise<void> {
  const meta = await db.get('meta', 'client');
  if (!meta) return;
  publish({ kind: 'confirmed', head: meta.confirmedHead, count: 0 });
  publish({ kind: 'appended', aggregates: [], count: 0 });
  publish({ kind: 'reset' });
}

/**
 * How long stop() lets the round in flight go on before it ends that round's request: long enough to finish
 * its push and the pull that confirms it (their outcomes reach this session), and no longer (a server that
 * trickles a reply held close() for the request's whole minute).
 */
const STOP_GRACE_MS = 5_000;

/**
 * The sync loop: runs a round (sync-round.ts: pull, rebase, push) whenever
 * something changed, polls otherwise, backs off after failures, and follows
 * the live channel. Only one tab per store runs it (a Web Lock); the others
 * stay on standby and see its results through the shared database and the
 * change feed.
 */
export function createSyncRunner(deps: SyncDeps, config: SyncConfig, given: SyncCallbacks = {}): SyncRunner {
  const callbacks = noting(given);
  const initialBackoff = config.initialBackoffMs ?? 500;
  const maxBackoff = config.maxBackoffMs ?? 30_000;
  let waitsEnd = new AbortController(); // pause(), stop(): a round's wait for the keys callback ends (haltError); resume() renews it
  const requestsEnd = new AbortController(); // STOP_GRACE_MS after stop(): ends a request still going
  const transport = syncTransport(deps, config, callbacks, () => waitsEnd.signal, requestsEnd.signal);

  const status: SyncStatus = initialSyncStatus('standby');
  const lockName = `chronicle-sync:${deps.name}`;
  const granted = grantSignal();
  let stopped = false;
  let paused = false;
  const { sleep, wake } = createWakeableSleep();
  let dirty = true;
  let failures = 0;
  /** What the last failure's reply asked for (Retry-After): the backoff waits at least this long. */
  let retryAfterMs = 0;
  const roundWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  let releaseLock: (() => void) | undefined;
  /** Takes back the lock request while another tab (or store of this name) holds the lock (see requestLeaderLock). */
  let withdrawLock: Withdraw = () => undefined;
  let loopDone: Promise<void> | undefined;
  /** The latest round: settled once it has ended and its outcome is in the status. */
  let roundEnded: Promise<void> | undefined;

  const setStatus = (patch: Partial<SyncStatus>) => {
    Object.assign(status, patch);
    deps.publish({ kind: 'sync', status: { ...status } });
  };

  const round = createSyncRound(
    {
      clientId: deps.clientId,
      getDb: deps.getDb,
      publish: deps.publish,
      transport,
      status,
      setStatus,
      decide: callbacks.decide,
      halted: () => paused || stopped,
    },
    {
      pullLimit: Math.min(config.pullLimit ?? 1000, DEFAULT_LIMITS.maxPullLimit),
      pushLimit: Math.min(config.pushLimit ?? 500, DEFAULT_LIMITS.maxEventsPerPush),
    },
  );

  const live = createLiveFollower({
    transport,
    factory: liveSocketFactory(deps.webSocket, config),
    wanted: () => config.live !== false && !stopped && !paused,
    retryDelay: (n) => backoffDelay(n, initialBackoff, maxBackoff),
    onHead(head) {
      status.serverHead = Math.max(status.serverHead, head);
      if (head > status.confirmedPosition) runner.changed();
    },
  });

  /** After a failed round: the state to show, the error kept across reloads, and how long to wait. */
  const failed = async (thrown: unknown, waiters: typeof roundWaiters): Promise<void> => {
    const error = roundError(deps.name, thrown);
    failures++;
    retryAfterMs = retryAfterOf(error, maxBackoff);
    const lastError = lastErrorOf(error);
    const state = error instanceof OfflineError || (error instanceof SyncHttpError && error.status >= 500) ? 'offline' : 'error';
    setStatus({ state, lastError, progress: null });
    await round.refreshCounts().catch(() => undefined);
    await deps
      .getDb()
      .then((d) => d.put('sync', { serverHead: status.serverHead, lastSyncAt: status.lastSyncAt, lastError }, 'state'))
      .catch(() => undefined);
    settleWaiters(waiters, error);
  };

  /** One round and its outcome: the waiters settled, the status set (pause() waits for this). */
  const runRound = async (waiters: typeof roundWaiters): Promise<void> => {
    try {
      if (!isOnline()) throw new OfflineError('the browser is offline');
      const end = await round.run().catch((error: unknown) => haltedOr(error, paused || stopped));
      failures = 0;
      retryAfterMs = 0;
      if (end === 'halted') {
        // Paused (or stopped) mid-round: what it had not sent yet goes after resume(), which triggers a round.
        settleWaiters(waiters, haltError(stopped));
      } else if (end === 'more') {
        roundWaiters.unshift(...waiters); // work left after the round's share of steps: the next round, at once, is theirs
        dirty = true;
      } else {
        settleWaiters(waiters);
        if (!live.isOpen) void live.open();
      }
    } catch (error) {
      await failed(error, waiters);
    } finally {
      // A pause that came during the round: the round's own last word (online, error) does not stand.
      if (paused && !stopped) setStatus({ state: 'paused', progress: null });
    }
  };

  const loop = async () => {
    setStatus({ leader: true, state: paused ? 'paused' : 'syncing' });
    const db = await deps.getDb();
    const saved = (await db.get('sync', 'state')) as SyncRecord | undefined;
    if (saved) Object.assign(status, { serverHead: saved.serverHead, lastSyncAt: saved.lastSyncAt, lastError: saved.lastError });
    await askTabsToLookAgain(db, deps.publish);
    void live.open();
    while (!stopped) {
      if (paused) {
        settleWaiters(roundWaiters.splice(0), new ChronicleError('SYNC_PAUSED', 'Sync is paused'));
        await sleep(60_000);
        continue;
      }
      // After a failure the backoff is waited out even with changes waiting (changed() does not end it; trigger() does).
      if (failures > 0) await sleep(Math.max(backoffDelay(failures, initialBackoff, maxBackoff), retryAfterMs));
      else if (!dirty) await sleep(config.pollIntervalMs ?? 30_000);
      if (stopped) break;
      if (paused) continue;
      dirty = false;
      // Callers arriving during this round wait for the next one: it is the one that sees their appends.
      roundEnded = runRound(roundWaiters.splice(0));
      await roundEnded;
    }
    live.close();
    setStatus({ leader: false, state: 'standby' });
  };

  const onOnline = () => runner.trigger();
  const scope = globalThis as {
    addEventListener?: (type: string, fn: () => void) => void;
    removeEventListener?: (type: string, fn: () => void) => void;
  };
  scope.addEventListener?.('online', onOnline);

  const runner: SyncRunner = {
    status: () => ({ ...status }),
    trigger() {
      dirty = true;
      failures = 0;
      retryAfterMs = 0;
      wake();
    },
    changed() {
      dirty = true;
      if (failures === 0) wake();
    },
    async syncNow() {
      // Right after opening, this engine's lock request may still be pending: then the round is its own.
      const leading = status.leader || stopped || paused || (await leadershipComing(lockName, granted));
      return new Promise<void>((resolve, reject) => {
        if (stopped) return reject(new ChronicleError('SYNC_STOPPED', 'Sync is stopped'));
        if (paused) return reject(new ChronicleError('SYNC_PAUSED', 'Sync is paused'));
        if (!leading) return reject(new ChronicleError('SYNC_STANDBY', 'Another tab syncs this store; it will pick up the change'));
        roundWaiters.push({ resolve, reject });
        runner.trigger();
      });
    },
    async pause() {
      paused = true;
      waitsEnd.abort(haltError(false));
      live.close();
      setStatus({ state: 'paused' });
      // A retry's wait (e.g. after a 429) ends at once; a round in flight stops at its next step.
      wake();
      await roundEnded;
    },
    resume() {
      if (!paused) return;
      paused = false;
      waitsEnd = new AbortController();
      setStatus({ state: status.leader ? 'syncing' : 'standby' });
      runner.trigger();
      void live.open();
    },
    async stop() {
      stopped = true;
      waitsEnd.abort(haltError(true));
      const grace = setTimeout(() => requestsEnd.abort(), STOP_GRACE_MS);
      scope.removeEventListener?.('online', onOnline);
      live.close();
      wake();
      releaseLock?.();
      withdrawLock();
      await loopDone?.catch(() => undefined);
      clearTimeout(grace);
    },
  };

  // Only one tab per store syncs: the one holding the lock. The others wait for it.
  withdrawLock = requestLeaderLock(lockName, () => {
    granted.grant();
    if (stopped) return undefined;
    loopDone = loop();
    return new Promise<void>((resolve) => {
      releaseLock = resolve;
      void loopDone!.finally(resolve);
    });
  });
  return runner;
}
