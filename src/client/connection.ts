import * as Comlink from 'comlink';
import { ConfigError, StoreClosedError } from '../core/errors.ts';
import {
  installErrorTransfer,
  type Change,
  type Engine,
  type EngineHost,
  type EngineOptions,
  type LogPageQuery,
} from '../../worker/contract.ts';
import { describeArgument } from './argument-checks.ts';
import { createCallClient, type LogScanSession } from './call-client.ts';
import { ENGINE_WORKER_OPTIONS, fallbackWorkerUrl, spawnDefaultWorker, thisModuleUrl } from './spawn-worker.ts';

/**
 * Where the engine runs:
 * - `'auto'` (default): a Web Worker where the platform has one, else in-process;
 * - `true`: a Web Worker, or a ConfigError where there is none;
 * - `false`: in-process (Node, tests, SSR);
 * - a `Worker`, a function returning one, or the URL of a worker script (a module
 *   worker that imports `chronicle/worker`, or the shipped `engine.worker.js`):
 *   for bundlers that cannot start the default worker.
 */
export type WorkerOption = boolean | 'auto' | Worker | (() => Worker) | URL | string;

type AsyncEngine = {
  [K in Exclude<keyof Engine, 'subscribe' | 'attachPort' | 'unsubscribe' | 'close'>]: Engine[K];
};

/** The engine as the client sees it, whichever side of a worker boundary it lives on. */
export interface EngineConnection {
  readonly engine: AsyncEngine;
  readonly inWorker: boolean;
  /** Worker mode: opens a log scan that the engine walks a few pages per call (worker/scan-sessions.ts). */
  openScan?(query: LogPageQuery): LogScanSession;
  subscribe(listener: (change: Change) => void): Promise<() => void>;
  /** Makes an object of functions callable from the engine's side (a comlink proxy in worker mode). */
  callable<T extends object>(functions: T): T;
  /** Worker mode, where Web Locks exist: settles if the engine's worker ends without close() (see watchEngine). */
  readonly stopped?: Promise<void>;
  close(): Promise<void>;
}

/** How to get the worker, and a second one to try if the first fails to load. */
interface WorkerPlan {
  create(): Worker;
  fallback?: () => Worker;
}

function workerPlan(option: WorkerOption): WorkerPlan | undefined {
  if (option === false) return undefined;
  const available = typeof Worker === 'function';
  if (option === 'auto' || option === true) {
    if (!available) {
      if (option === 'auto') return undefined;
      throw new ConfigError('worker: true, but this platform has no Web Worker; use worker: false');
    }
  } else {
    if (typeof option === 'function') return { create: option };
    if (typeof option === 'string' || option instanceof URL) {
      if (!available) throw new ConfigError(`worker: a URL (${String(option)}), but this platform has no Web Worker; use worker: false`);
      return { create: () => new Worker(option, ENGINE_WORKER_OPTIONS) };
    }
    return { create: () => option };
  }
  const fallback = fallbackWorkerUrl(thisModuleUrl());
  return fallback
    ? { create: spawnDefaultWorker, fallback: () => new Worker(fallback, ENGINE_WORKER_OPTIONS) }
    : { create: spawnDefaultWorker };
}

/** The worker's script failed to load or threw before it served the engine. */
class WorkerStartError extends ConfigError {
  override name = 'WorkerStartError';
}

/** How long a new worker may take to answer its first message (its script loading) before openStore gives up on it. */
const WORKER_START_MS = 30_000;

/** A worker that has opened its engine, and how to tell when it is gone. */
interface OpenedWorker {
  host: Comlink.Remote<EngineHost>;
  remote: Comlink.Remote<Engine>;
  /** Settles when the worker has ended (see watchEngine); withdrawn by `closing`. */
  gone: Promise<void>;
  closing: AbortController;
}

/** Rejects with StoreClosedError ('engine-stopped') once `gone` settles: for the steps of opening a store. */
function stoppedWhileOpening(gone: Promise<void>, name: string): Promise<never> {
  const stopped = gone.then((): never => {
    throw new StoreClosedError(name, 'engine-stopped');
  });
  stopped.catch(() => undefined);
  return stopped;
}

/**
 * Opens the engine in `worker`. Rejects if the worker fails to load (404,
 * syntax error, CSP), does not answer within WORKER_START_MS, or ends (is
 * terminated, or ended by the browser) before its engine is open: a worker
 * that ends says so in no other way, and the open would wait for good.
 */
async function openInWorker(worker: Worker, options: EngineOptions): Promise<OpenedWorker> {
  const { name } = options;
  const host = Comlink.wrap<EngineHost>(worker);
  const closing = new AbortController();
  let onError: ((event: Event) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const died = new Promise<never>((_, reject) => {
    onError = (event) => {
      const detail = event instanceof ErrorEvent && event.message ? `: ${event.message}` : '';
      reject(
        new WorkerStartError(
          `The engine worker failed to start${detail}. If your bundler cannot serve it, pass openStore({ worker }) ` +
            `a Worker or the URL of chronicle's dist/engine.worker.js (see the README, "Install").`,
        ),
      );
    };
    worker.addEventListener('error', onError);
    const seconds = WORKER_START_MS / 1000;
    timer = setTimeout(
      () => reject(new WorkerStartError(`The engine worker did not answer within ${seconds} s: it ended, or its script did not load`)),
      WORKER_START_MS,
    );
  });
  try {
    // The watch first: an open that the worker never answers because it ended must not wait for good.
    const { gone } = await Promise.race([watchEngine(host, closing.signal), died]);
    clearTimeout(timer);
    const opening = host.open(options);
    const remote = (await Promise.race([opening, died, stoppedWhileOpening(gone, name)])) as unknown as Comlink.Remote<Engine>;
    return { host, remote, gone, closing };
  } catch (error) {
    closing.abort();
    host[Comlink.releaseProxy]();
    worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
    if (onError) worker.removeEventListener('error', onError);
  }
}

type LockManagerLike = {
  request(name: string, options: { signal: AbortSignal }, callback: () => void): Promise<unknown>;
};

/**
 * Watches a worker's life: the worker holds a Web Lock of its own while it
 * lives (EngineHost.holdWhileAlive), and this page asks for the same lock,
 * which it gets only once the worker has ended (terminated, or ended by the
 * browser, out of memory say). Resolves once the watch is set, with `gone`,
 * which settles then; `gone` never settles where there are no Web Locks, or
 * with a worker script that cannot hold one. `closing` withdraws the request.
 */
async function watchEngine(host: Comlink.Remote<EngineHost>, closing: AbortSignal): Promise<{ gone: Promise<void> }> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const never = { gone: new Promise<void>(() => undefined) };
  if (!locks) return never;
  const lockName = `chronicle-engine-alive:${globalThis.crypto.randomUUID()}`;
  // An older worker script has no holdWhileAlive: the call fails, and the engine is not watched.
  const held = await host.holdWhileAlive(lockName).catch(() => false);
  if (!held || closing.aborted) return never;
  return {
    gone: new Promise<void>((resolve) => {
      locks.request(lockName, { signal: closing }, () => resolve()).catch(() => undefined);
    }),
  };
}

async function connectInProcess(options: EngineOptions): Promise<EngineConnection> {
  // Without it the engine's first open failed with a bare ReferenceError from inside idb, naming nothing.
  if (!(globalThis as { indexedDB?: unknown }).indexedDB) {
    throw new ConfigError(
      "openStore needs IndexedDB, which this runtime lacks: in Node (tests, scripts), import 'fake-indexeddb/auto' first; on a server, the store belongs in the browser (chronicle/server is the sync server)",
    );
  }
  // The engine is loaded only here, so a page whose engine runs in a worker never downloads it.
  const { createEngine } = await import('../../worker/engine.ts');
  const engine = await createEngine(options);
  return {
    engine,
    inWorker: false,
    async subscribe(listener) {
      const id = engine.subscribe(listener);
      return () => engine.unsubscribe(id);
    },
    callable: (functions) => functions,
    close: () => engine.close(),
  };
}

/**
 * What the `worker` option gave (a Worker, or what its function returned), checked before the engine is
 * opened in it: anything else (a number, `{}`) failed inside comlink with a TypeError that named nothing.
 */
function workerFrom(value: unknown): Worker {
  const candidate = value as Partial<Worker> | null;
  if (typeof candidate?.postMessage === 'function' && typeof candidate.addEventListener === 'function') return value as Worker;
  throw new ConfigError(
    `worker must be false, true, 'auto', a Worker, a function returning one, or the URL of a worker script (got ${describeArgument(value)}${typeof value === 'object' && value !== null ? ' without postMessage and addEventListener' : ''})`,
  );
}

export async function connect(options: EngineOptions, option: WorkerOption): Promise<EngineConnection> {
  const { name } = options;
  const plan = workerPlan(option);
  if (!plan) return connectInProcess(options);
  installErrorTransfer();
  let worker = workerFrom(plan.create());
  let opened: Awaited<ReturnType<typeof openInWorker>>;
  try {
    opened = await openInWorker(worker, options);
  } catch (error) {
    if (!(error instanceof WorkerStartError) || !plan.fallback) throw error;
    worker = workerFrom(plan.fallback());
    opened = await openInWorker(worker, options);
  }
  const { host, remote, gone, closing } = opened;
  /** close() began: the worker ending from then on is the close, not a stop on its own. */
  let closeStarted = false;
  const stopped = gone.then(() => (closeStarted ? new Promise<void>(() => undefined) : undefined));
  // Appends, loads and the change feed take a port of their own (worker/call-port.ts); comlink serves the rest.
  const { port1, port2 } = new MessageChannel();
  await Promise.race([remote.attachPort(Comlink.transfer(port2, [port2])), stoppedWhileOpening(gone, name)]);
  const calls = createCallClient(port1);
  const engine = new Proxy(remote, {
    get(target, property, receiver) {
      if (property === 'append') return calls.append;
      if (property === 'appendBatch') return calls.appendBatch;
      if (property === 'readSnapshotAndTail') return calls.readSnapshotAndTail;
      return Reflect.get(target, property, receiver) as unknown;
    },
  }) as unknown as AsyncEngine;
  return {
    engine,
    inWorker: true,
    openScan: (query) => calls.openScan(query),
    subscribe: (listener) => calls.subscribe(listener),
    callable: (functions) => Comlink.proxy(functions),
    stopped,
    async close() {
      closeStarted = true;
      try {
        // A worker that has ended never answers: its close is done.
        await Promise.race([remote.close(), gone]);
      } finally {
        // Withdrawn only now, before terminate(): a worker that died during close() still ends the wait above.
        closing.abort();
        calls.close();
        remote[Comlink.releaseProxy]();
        host[Comlink.releaseProxy]();
        worker.terminate();
      }
    },
  };
}
