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
}

const host: EngineHost = {
  async open(options) {
    const engine = await createEngine(options);
    // subscribe takes a main-thread callback: comlink hands us a proxy for it.
    return Comlink.proxy(engine);
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
