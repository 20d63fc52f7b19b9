/**
 * The Web Worker entry: exposes an engine factory to the main thread through
 * comlink. Import `chronicle/worker` only as a worker script; in-process users
 * get the same engine from `createEngine` without a worker.
 */
import * as Comlink from 'comlink';
import { createEngine, type Engine, type EngineOptions } from './engine.ts';
import { installErrorTransfer } from './error-transfer.ts';

installErrorTransfer();

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

Comlink.expose(host);
