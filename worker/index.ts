/**
 * The Web Worker entry: exposes an engine factory to the main thread through
 * comlink. Loaded as a worker script, it starts listening at once. An app that
 * builds its own worker file imports this module there (`import 'chronicle/worker'`)
 * and passes that worker to `openStore({ worker })`. In-process users get the
 * same engine from `createEngine` without a worker.
 */
import * as Comlink from 'comlink';
import { createEngine, type Engine, type EngineOptions } from './engine.ts';
import { installErrorTransfer } from './error-transfer.ts';

export interface EngineHost {
  open(options: EngineOptions): Promise<Engine>;
  /**
   * Takes the Web Lock `lockName` and holds it for as long as this worker
   * lives; true once it is held (false without Web Locks). The page then
   * waits for the same lock: when it is granted, the worker is gone, which a
   * terminated worker or one the browser ended says in no other way
   * (src/client/connection.ts, engineGone).
   */
  holdWhileAlive(lockName: string): Promise<boolean>;
}

type LockManagerLike = { request(name: string, callback: () => Promise<unknown>): Promise<unknown> };

const host: EngineHost = {
  async open(options) {
    const engine = await createEngine(options);
    // subscribe takes a main-thread callback: comlink hands us a proxy for it.
    return Comlink.proxy(engine);
  },
  holdWhileAlive(lockName) {
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (!locks) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      locks
        .request(lockName, () => {
          resolve(true);
          return new Promise<never>(() => undefined); // held until the worker ends
        })
        .catch(() => resolve(false));
    });
  },
};

/** Serves the engine to the page on `endpoint` (default: this worker's global scope). */
export function exposeEngine(endpoint: Comlink.Endpoint = globalThis as unknown as Comlink.Endpoint): void {
  installErrorTransfer();
  Comlink.expose(host, endpoint);
}

/** True inside a dedicated or shared worker; false on a page, in Node and in SSR. */
function inWorkerScope(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown }).WorkerGlobalScope;
  return typeof scope === 'function' && globalThis instanceof scope;
}

// Importing this module anywhere else (a page, Node, SSR, a type check) must have no effect.
if (inWorkerScope()) exposeEngine();
