/**
 * `store.metrics()`: what an operator of a local store wants on a dashboard.
 *
 * - Latencies (appends, replay runs, projection catch-ups) are timed on the
 *   main thread, where the app waits for them, and kept in fixed-size rings
 *   of the newest METRICS_WINDOW samples: recording one is a clock read and
 *   two array writes, nothing allocates, nothing grows. Percentiles are
 *   computed when a snapshot is asked for, never on the recording path.
 * - Sync figures are read from the engine (its SyncStatus, and the time of
 *   the oldest pending event) when a snapshot is taken: nothing is kept twice.
 */
import { StoreClosedError, ValidationError } from '../core/errors.ts';
import type { Change, SyncStatus } from '../../worker/contract.ts';
import type { ChangeHub } from './change-hub.ts';
import type { EngineConnection } from './connection.ts';
import type { Store } from './store-api.ts';

/** Samples kept per figure: the newest 1,024 (a power of two: the ring index wraps with a mask). */
export const METRICS_WINDOW = 1024;

/** A latency over the newest samples, in milliseconds; null while there is no sample. */
export interface LatencyMetrics {
  /** Samples recorded since the store opened. */
  count: number;
  /** Samples the figures below cover: the newest ones, at most `METRICS_WINDOW` (1,024). */
  window: number;
  /** The newest sample. */
  last: number | null;
  mean: number | null;
  /** Percentiles over the window (nearest rank). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Runs that handle many events each: their durations, and the events they handled. */
export interface RunMetrics extends LatencyMetrics {
  /** Events handled (replay) or applied (catch-up) by the runs counted, since the store opened. */
  events: number;
  /** Milliseconds per event over the runs in the window (their total time / their events), or null. */
  perEventMs: number | null;
}

/** Where sync stands, as figures (see the README, "store.metrics()"). */
export interface SyncMetrics {
  state: SyncStatus['state'];
  /** The server's head as last heard. */
  serverHead: number;
  /** The highest server position this client has pulled. */
  confirmedPosition: number;
  /** Events the server has that this client has not pulled: serverHead − confirmedPosition (as last heard). */
  lagEvents: number;
  /**
   * Milliseconds since this client last held everything the server had: 0
   * while sync is online (idle, caught up) and nothing is left to pull;
   * otherwise the time since the last pull that reached the server's head,
   * which keeps growing while the server cannot be reached. Null when it
   * never caught up.
   */
  lagMs: number | null;
  /** When it was last caught up (epoch ms), or null. */
  caughtUpAt: number | null;
  /** Local events not yet confirmed by the server. */
  pending: number;
  /** meta.occurredAt (the append time, unless the app set one) of the oldest pending event, or null. */
  oldestPendingAt: number | null;
  /** Milliseconds since then (takenAt − oldestPendingAt), or null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

export interface StoreMetrics {
  /** When this snapshot was taken (epoch ms). */
  takenAt: number;
  /** append() and appendBatch() calls: from the call to the committed reply, as the app sees it (one sample per call). */
  append: LatencyMetrics;
  /** Replay jobs (store.replay) and projection rebuilds that completed: one sample per run, from its start to its result. */
  replay: RunMetrics;
  /** Projection catch-ups that applied events (after appends, pulls, other tabs' writes): one sample per catch-up. */
  catchUp: RunMetrics;
  /** Null when the store was opened without `sync`. */
  sync: SyncMetrics | null;
}

export interface MetricsSubscribeOptions {
  /** At most one call per this many milliseconds (default 1,000). */
  intervalMs?: number;
}

/** `store.metrics`: a snapshot on call, or a listener called while the figures move. */
export interface MetricsHandle {
  (): Promise<StoreMetrics>;
  /**
   * Calls back with a snapshot now, then after appends, replay runs,
   * catch-ups and sync changes, at most once per `intervalMs`; nothing while
   * nothing moves. Returns unsubscribe.
   */
  subscribe(listener: (metrics: StoreMetrics) => void, options?: MetricsSubscribeOptions): () => void;
}

/** A fixed ring of the newest METRICS_WINDOW samples (and, for runs, the events of each). */
export interface SampleWindow {
  record(value: number, events?: number): void;
  latency(): LatencyMetrics;
  runs(): RunMetrics;
}

const MASK = METRICS_WINDOW - 1;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function createSampleWindow(): SampleWindow {
  const values = new Float64Array(METRICS_WINDOW);
  const weights = new Float64Array(METRICS_WINDOW);
  let next = 0;
  let count = 0;
  let last = 0;
  let eventTotal = 0;

  const latency = (): LatencyMetrics => {
    const n = Math.min(count, METRICS_WINDOW);
    if (n === 0) return { count: 0, window: 0, last: null, mean: null, p50: null, p95: null, p99: null, max: null };
    // Until the ring wraps its samples are its first n slots; after, all of them.
    const sorted = values.slice(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    return {
      count,
      window: n,
      last,
      mean: sum / n,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: sorted[n - 1]!,
    };
  };

  return {
    record(value, events = 0) {
      values[next] = value;
      weights[next] = events;
      next = (next + 1) & MASK;
      count++;
      last = value;
      eventTotal += events;
    },
    latency,
    runs() {
      const n = Math.min(count, METRICS_WINDOW);
      let time = 0;
      let events = 0;
      for (let i = 0; i < n; i++) {
        time += values[i]!;
        events += weights[i]!;
      }
      return { ...latency(), events: eventTotal, perEventMs: events > 0 ? time / events : null };
    },
  };
}

/** What the store's parts record into (StoreContext.metrics). */
export interface MetricsRecorder {
  /** A clock for durations (ms, monotonic). */
  now(): number;
  append(ms: number): void;
  /** A completed replay job or projection rebuild. */
  replayRun(ms: number, events: number): void;
  /** A projection catch-up that applied `events` (> 0). */
  catchUp(ms: number, events: number): void;
}

export interface Metrics {
  readonly recorder: MetricsRecorder;
  /** The store's `metrics` handle; it refuses with what `closedError` gives, once it gives something. */
  handle(connection: EngineConnection, hub: ChangeHub, closedError: () => StoreClosedError | undefined): MetricsHandle;
  /** Stops every subscription's timer (the store closes). */
  stop(): void;
}

const clock: () => number =
  typeof performance === 'object' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

async function syncMetrics(connection: EngineConnection, takenAt: number): Promise<SyncMetrics | null> {
  const status = await connection.engine.syncStatus();
  if (status.state === 'disabled') return null;
  const oldestPendingAt = status.pending > 0 ? await connection.engine.oldestPendingAt() : null;
  const lagEvents = Math.max(0, status.serverHead - status.confirmedPosition);
  // A standby tab, or a session that has not pulled yet, knows only when the last round completed.
  const caughtUpAt = status.caughtUpAt ?? status.lastSyncAt ?? null;
  const lagMs = lagEvents === 0 && status.state === 'online' ? 0 : caughtUpAt === null ? null : Math.max(0, takenAt - caughtUpAt);
  return {
    state: status.state,
    serverHead: status.serverHead,
    confirmedPosition: status.confirmedPosition,
    lagEvents,
    lagMs,
    caughtUpAt,
    pending: status.pending,
    oldestPendingAt,
    oldestPendingAgeMs: oldestPendingAt === null ? null : Math.max(0, takenAt - oldestPendingAt),
  };
}

interface Subscription {
  listener(metrics: StoreMetrics): void;
  intervalMs: number;
  dirty: boolean;
  delivering: boolean;
  lastAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The store's metrics: the recorder its parts time into, and the public handle. */
export function createMetrics(): Metrics {
  const appends = createSampleWindow();
  const replays = createSampleWindow();
  const catchUps = createSampleWindow();
  const subscriptions = new Set<Subscription>();
  let poke: (() => void) | undefined;

  const recorder: MetricsRecorder = {
    now: clock,
    append(ms) {
      appends.record(ms);
      if (poke) poke();
    },
    replayRun(ms, events) {
      replays.record(ms, events);
      if (poke) poke();
    },
    catchUp(ms, events) {
      catchUps.record(ms, events);
      if (poke) poke();
    },
  };

  const stopAll = () => {
    for (const sub of subscriptions) clearTimeout(sub.timer);
    subscriptions.clear();
    poke = undefined;
  };

  return {
    recorder,
    stop: stopAll,
    handle(connection, hub, closedError) {
      const refuseIfClosed = (): void => {
        const error = closedError();
        if (error) throw error;
      };
      const snapshot = async (): Promise<StoreMetrics> => {
        refuseIfClosed();
        const takenAt = Date.now();
        return {
          takenAt,
          append: appends.latency(),
          replay: replays.runs(),
          catchUp: catchUps.runs(),
          sync: await syncMetrics(connection, takenAt),
        };
      };

      let stopWatch: (() => void) | undefined;
      const schedule = (sub: Subscription) => {
        if (sub.timer !== undefined || sub.delivering || !subscriptions.has(sub)) return;
        const wait = Math.max(0, sub.lastAt + sub.intervalMs - clock());
        sub.timer = setTimeout(() => {
          sub.timer = undefined;
          void deliver(sub);
        }, wait);
      };
      const deliver = async (sub: Subscription) => {
        sub.dirty = false;
        sub.delivering = true;
        try {
          const metrics = await snapshot();
          if (subscriptions.has(sub)) sub.listener(metrics);
        } catch {
          // Closed, or the engine went away: the next change tries again (close stops it).
        } finally {
          sub.delivering = false;
          sub.lastAt = clock();
        }
        if (sub.dirty) schedule(sub);
      };
      const changed = () => {
        for (const sub of subscriptions) {
          sub.dirty = true;
          schedule(sub);
        }
      };
      const watch = (change: Change) => {
        if (change.kind === 'sync' || change.kind === 'appended' || change.kind === 'confirmed') changed();
      };

      const metrics = snapshot as MetricsHandle;
      metrics.subscribe = (listener, options) => {
        refuseIfClosed();
        const intervalMs = options?.intervalMs ?? 1000; // options may be left out, or null
        if (typeof listener !== 'function') throw new ValidationError('?', 'listener', 'metrics.subscribe needs a listener function');
        if (!(typeof intervalMs === 'number' && Number.isFinite(intervalMs) && intervalMs >= 0))
          throw new ValidationError('?', 'intervalMs', `must be a non-negative number of milliseconds (got ${String(intervalMs)})`);
        const sub: Subscription = { listener, intervalMs, dirty: false, delivering: false, lastAt: -Infinity, timer: undefined };
        subscriptions.add(sub);
        poke = changed;
        stopWatch ??= hub.watch(watch);
        void deliver(sub);
        return () => {
          clearTimeout(sub.timer);
          subscriptions.delete(sub);
          if (subscriptions.size === 0) {
            poke = undefined;
            stopWatch?.();
            stopWatch = undefined;
          }
        };
      };
      return metrics;
    },
  };
}

/** The appender's calls, timed from the call to the committed reply (failed calls are not samples). */
export function timeAppends<T extends Pick<Store, 'append' | 'appendBatch'>>(appender: T, recorder: MetricsRecorder): T {
  const { append, appendBatch } = appender;
  const timed: Pick<Store, 'append' | 'appendBatch'> = {
    append(aggregateId, events, options) {
      const started = recorder.now();
      return append(aggregateId, events, options).then((result) => {
        recorder.append(recorder.now() - started);
        return result;
      });
    },
    appendBatch(entries) {
      const started = recorder.now();
      return appendBatch(entries).then((results) => {
        recorder.append(recorder.now() - started);
        return results;
      });
    },
  };
  return { ...appender, ...timed };
}

/** Replay jobs, timed from the call to their result, with the events their handler was given. */
export function timeReplay(replay: Store['replay'], recorder: MetricsRecorder): Store['replay'] {
  return (options) => {
    const handler = options?.handler;
    if (typeof handler !== 'function') return replay(options);
    let events = 0;
    const started = recorder.now();
    const counted: typeof handler = (event, context) => {
      events++;
      return handler(event, context);
    };
    const timed = replay({ ...options, handler: counted }).then((result) => {
      recorder.replayRun(recorder.now() - started, events);
      return result;
    });
    // As the job tracker does for the job itself: a job that close() stops rejects with AbortedError
    // maybe before its caller awaits it, and that is not an unhandled rejection.
    timed.catch(() => undefined);
    return timed;
  };
}
