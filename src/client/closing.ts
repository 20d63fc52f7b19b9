import { ChronicleError, StoreClosedError } from '../core/errors.ts';
import type { EngineConnection } from './connection.ts';

/**
 * What close() promises (issue 9): every call in flight settles, completing
 * or rejecting with StoreClosedError, and every call after close() rejects
 * with StoreClosedError, whichever side of a worker boundary the engine is
 * on. A worker that is terminated never answers the calls it had not
 * answered yet, and comlink refuses calls on a released proxy with a plain
 * TypeError; the guard below covers both.
 */
export interface GuardedConnection {
  readonly connection: EngineConnection;
  /** The engine is being closed: from now on a failure of a call is reported as StoreClosedError. */
  closing(): void;
  /** Rejects every call still in flight with StoreClosedError (`error`, or one for close()), and every later one. */
  shut(error?: StoreClosedError): void;
  /** What later calls reject with, once shut. */
  shutError(): StoreClosedError | undefined;
}

export function guardConnection(inner: EngineConnection, name: string): GuardedConnection {
  let closing = false;
  /** Set once shut: what every later call rejects with. */
  let shut: StoreClosedError | undefined;
  const inFlight = new Set<(error: StoreClosedError) => void>();
  // A call that fails because the engine went away (a released proxy's TypeError, a closed database) failed because of close().
  const explain = (error: unknown): unknown => (closing && !(error instanceof ChronicleError) ? new StoreClosedError(name) : error);
  const guarded = <T>(start: () => Promise<T>): Promise<T> => {
    if (shut) return Promise.reject(shut);
    return new Promise<T>((resolve, reject) => {
      const abandon = (error: StoreClosedError) => reject(error);
      inFlight.add(abandon);
      const fail = (error: unknown) => {
        inFlight.delete(abandon);
        reject(explain(error));
      };
      let call: Promise<T>;
      try {
        // Promise.resolve: an in-process engine answers some calls (leadReactions) synchronously.
        call = Promise.resolve(start());
      } catch (error) {
        fail(error);
        return;
      }
      call.then((value) => {
        inFlight.delete(abandon);
        resolve(value);
      }, fail);
    });
  };
  const engine = new Proxy(inner.engine, {
    get(target, property) {
      if (typeof property !== 'string' || property === 'then') return Reflect.get(target, property) as unknown;
      // The member is looked up only when called: on a released comlink proxy the lookup itself throws.
      // Reflect.apply, not member.apply: on a comlink proxy `.apply` would be a remote property.
      return (...args: unknown[]) =>
        guarded(
          () => Reflect.apply(Reflect.get(target, property) as (...a: unknown[]) => Promise<unknown>, target, args) as Promise<unknown>,
        );
    },
  });
  const openScan = inner.openScan?.bind(inner);
  const connection: EngineConnection = {
    engine,
    inWorker: inner.inWorker,
    // A scan's steps are calls like any other: they settle at close, and fail after it.
    ...(openScan
      ? {
          openScan: (query) => {
            const scan = openScan(query);
            return { next: () => guarded(() => scan.next()), close: () => scan.close() };
          },
        }
      : {}),
    subscribe: (listener) => guarded(() => inner.subscribe(listener)),
    callable: (functions) => inner.callable(functions),
    ...(inner.stopped ? { stopped: inner.stopped } : {}),
    close: () => inner.close(),
  };
  return {
    connection,
    closing() {
      closing = true;
    },
    shutError: () => shut,
    shut(error = new StoreClosedError(name)) {
      closing = true;
      shut ??= error;
      for (const abandon of [...inFlight]) abandon(shut);
      inFlight.clear();
    },
  };
}

/** Long-running work of a store (replay jobs, rebuilds) that close() stops and waits for. */
export interface JobTracker {
  /**
   * Runs `job` with a signal that aborts when the store closes; close() waits
   * for it to settle. `name`: a named replay job's, which isRunning() reports
   * until it settles.
   */
  track<T>(job: (closing: AbortSignal) => Promise<T>, name?: string): Promise<T>;
  /** Whether a job tracked under `name` is running in this store. */
  isRunning(name: string): boolean;
  /** Aborts every job and resolves once each has settled (their checkpoints saved). */
  stop(): Promise<void>;
}

export function createJobTracker(name: string): JobTracker {
  const closing = new AbortController();
  const running = new Set<Promise<unknown>>();
  /** Named jobs running, by name: how many (two calls may run the same name). */
  const named = new Map<string, number>();
  const count = (jobName: string, by: number): void => {
    const next = (named.get(jobName) ?? 0) + by;
    if (next > 0) named.set(jobName, next);
    else named.delete(jobName);
  };
  return {
    track(job, jobName) {
      if (closing.signal.aborted) return Promise.reject(new StoreClosedError(name));
      const run = job(closing.signal);
      if (jobName !== undefined) count(jobName, 1);
      const settled = run.catch(() => undefined);
      running.add(settled);
      void settled.finally(() => {
        running.delete(settled);
        if (jobName !== undefined) count(jobName, -1);
      });
      return run;
    },
    isRunning: (jobName) => named.has(jobName),
    async stop() {
      closing.abort();
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

/**
 * Runs `operation` with an AbortSignal that aborts when any of `signals`
 * does. Its listeners come off the given signals when the operation ends: the
 * store's closing signal lives as long as the store, and one listener left
 * per call would pile up (Node warns past ten).
 */
export async function withEitherSignal<T>(
  signals: readonly (AbortSignal | undefined)[],
  operation: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const detach: (() => void)[] = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const abort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    detach.push(() => signal.removeEventListener('abort', abort));
  }
  try {
    return await operation(controller.signal);
  } finally {
    for (const off of detach) off();
  }
}
