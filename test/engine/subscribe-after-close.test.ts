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
});
