import type { WorkerOption } from '../../src/client/connection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import type { AnyProjectionDefinition } from '../../src/core/projection.ts';

/**
 * The engine suites run once per place the engine can live: in-process
 * everywhere, and also in a Web Worker where the platform has one (Chromium).
 */
export const modes: { mode: string; worker: WorkerOption }[] =
  typeof Worker === 'function'
    ? [
        { mode: 'worker', worker: true },
        { mode: 'in-process', worker: false },
      ]
    : [{ mode: 'in-process', worker: false }];

export function openOrderStore(
  worker: WorkerOption,
  extra: { name?: string; projections?: AnyProjectionDefinition[]; maxEventBytes?: number } = {},
) {
  return openTestStore({ ...model, worker, ...extra });
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Waits until `check` passes (re-checking after each tick), or fails with its last error. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
