import * as Comlink from 'comlink';
import { ConfigError } from '../core/errors.ts';
import { createEngine, type Engine } from '../../worker/engine.ts';
import type { EngineHost } from '../../worker/index.ts';
import { installErrorTransfer } from '../../worker/error-transfer.ts';
import type { Change } from '../../worker/types.ts';

/** Where the engine runs. 'auto' = a Web Worker where the platform has one, else in-process. */
export type WorkerOption = boolean | 'auto' | Worker | (() => Worker);

type AsyncEngine = {
  [K in Exclude<keyof Engine, 'subscribe' | 'unsubscribe' | 'close'>]: Engine[K];
};

/** The engine as the client sees it, whichever side of a worker boundary it lives on. */
export interface EngineConnection {
  readonly engine: AsyncEngine;
  readonly inWorker: boolean;
  subscribe(listener: (change: Change) => void): Promise<() => void>;
  /** Makes an object of functions callable from the engine's side (a comlink proxy in worker mode). */
  callable<T extends object>(functions: T): T;
  close(): Promise<void>;
}

function spawnDefaultWorker(): Worker {
  return new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module', name: 'chronicle-engine' });
}

function workerFor(option: WorkerOption): Worker | undefined {
  if (option === false) return undefined;
  if (typeof option === 'function') return option();
  if (typeof option === 'object') return option;
  const available = typeof Worker === 'function';
  if (option === 'auto') return available ? spawnDefaultWorker() : undefined;
  if (!available) throw new ConfigError('worker: true, but this platform has no Web Worker; use worker: false');
  return spawnDefaultWorker();
}

export async function connect(name: string, option: WorkerOption): Promise<EngineConnection> {
  const worker = workerFor(option);
  if (!worker) {
    const engine = await createEngine({ name });
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
  installErrorTransfer();
  const host = Comlink.wrap<EngineHost>(worker);
  let remote: Comlink.Remote<Engine>;
  try {
    remote = (await host.open({ name })) as unknown as Comlink.Remote<Engine>;
  } catch (error) {
    worker.terminate();
    throw error;
  }
  return {
    engine: remote as unknown as AsyncEngine,
    inWorker: true,
    async subscribe(listener) {
      const id = await remote.subscribe(Comlink.proxy(listener));
      return () => {
        try {
          void remote.unsubscribe(id).catch(() => undefined);
        } catch {
          // The store was closed (comlink released the proxy): nothing left to unsubscribe from.
        }
      };
    },
    callable: (functions) => Comlink.proxy(functions),
    async close() {
      try {
        await remote.close();
      } finally {
        remote[Comlink.releaseProxy]();
        host[Comlink.releaseProxy]();
        worker.terminate();
      }
    },
  };
}
