// openStore's `worker` option on a platform without Web Workers (Node, where these unit tests run):
// asking for a worker is a ConfigError that says what to pass instead, never a ReferenceError
// from deep inside, and 'auto' runs the engine in this thread.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore } from '../../src/client/index.ts';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { ChronicleError, ConfigError } from '../../src/core/errors.ts';
import { defineEvent } from '../../src/core/event.ts';

const Placed = defineEvent({ type: 'Placed', schema: z.object({ customerId: z.string() }) });
const Order = defineAggregate({
  type: 'Order',
  events: [Placed],
  version: 1,
  initialState: () => ({ placed: false }),
  reducers: { Placed: () => ({ placed: true }) },
});

const name = (): string => `worker-option-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

describe('openStore({ worker }) where there is no Web Worker', () => {
  it.each([
    ['a URL', new URL('http://127.0.0.1:1/engine.worker.js')],
    ['a URL as a string', '/engine.worker.js'],
    ['true', true as const],
  ])('given %s: a ConfigError that says to use worker: false', async (_what, worker) => {
    expect(typeof (globalThis as { Worker?: unknown }).Worker).toBe('undefined');
    const opening = openStore({ aggregates: [Order], name: name(), worker });
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toBeInstanceOf(ChronicleError);
    await expect(opening).rejects.toThrow(/no Web Worker; use worker: false/);
  });

  it("given 'auto' (the default): the engine runs in this thread", async () => {
    const store = await openStore({ aggregates: [Order], name: name(), worker: 'auto' });
    try {
      await store.append('order-1', [{ type: 'Placed', data: { customerId: 'c-1' } }]);
      expect((await store.load(Order, 'order-1')).state).toEqual({ placed: true });
    } finally {
      await store.close();
    }
  });
});
