// Every way to start listening refuses after close() with StoreClosedError, as the store's own
// subscribe and subscribeLog do: a listener added then would never hear anything, silently.
import { describe, expect, it } from 'vitest';
import { StoreClosedError } from '../../src/core/index.ts';
import { modes, openOrderStore } from './modes.ts';

describe.each(modes)('subscribing after close ($mode)', ({ worker }) => {
  it('throws StoreClosedError from sync.subscribe and reactions.subscribe too', async () => {
    const store = await openOrderStore(worker);
    const unsubscribe = store.sync.subscribe(() => undefined);
    unsubscribe();
    await store.dispose();
    expect(() => store.sync.subscribe(() => undefined)).toThrow(StoreClosedError);
    expect(() => store.reactions.subscribe(() => undefined)).toThrow(StoreClosedError);
    expect(() => store.subscribeLog(() => undefined)).toThrow(StoreClosedError);
  });

  it('tells sync.subscribe listeners nothing after they unsubscribe, a status already asked for included', async () => {
    const store = await openOrderStore(worker);
    try {
      const told: unknown[] = [];
      // Subscribing asks for the status at once; unsubscribing before its answer must leave it untold.
      store.sync.subscribe((status) => told.push(status))();
      const kept: unknown[] = [];
      const unsubscribe = store.sync.subscribe((status) => kept.push(status));
      await store.sync.status(); // asked after both: answered after both first answers
      await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1, price: 1 } }]);
      await expect.poll(() => kept.length).toBeGreaterThanOrEqual(2);
      unsubscribe();
      expect(told).toEqual([]);
    } finally {
      await store.dispose();
    }
  });
});
