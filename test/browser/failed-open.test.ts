import { describe, expect, it } from 'vitest';
import { ConfigError, openStore } from '../../src/client/index.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';

/**
 * An openStore that fails after its engine started hands the app no store to
 * close, so it must close what it opened itself. Here the engine runs in a
 * worker and the sync options carry a `fetch` (which only applies
 * in-process): by the time that is refused, the engine is open and the
 * store's reaction has asked for its lock. Before, the worker lived on and
 * held that lock, so an orphaned engine, not the app's next store, ran the
 * reaction's handlers.
 */

const charge = defineReaction({ name: 'charge', events: [ItemAdded], handlers: { ItemAdded: async () => undefined } });

async function heldFor(storeName: string): Promise<string[]> {
  const { held } = await navigator.locks.query();
  return (held ?? []).map((lock) => lock.name ?? '').filter((name) => name.includes(storeName));
}

describe('a failed openStore', () => {
  it('closes the engine it started: no worker is left holding the reaction', async () => {
    const name = uniqueStoreName('failed-open');
    const options = { ...model, name, worker: true as const, reactions: [charge] };
    const sync = { url: 'http://127.0.0.1:9', log: 'x', live: false, fetch: globalThis.fetch };
    await expect(openStore({ ...options, sync })).rejects.toBeInstanceOf(ConfigError);
    await expect.poll(() => heldFor(name)).toEqual([]);

    // The app's next attempt, done right, leads the reaction itself.
    const store = await openStore(options);
    try {
      await expect.poll(() => heldFor(name)).toEqual([`chronicle-reaction:${name}:charge`]);
      await expect.poll(async () => (await store.reactions.status()).map((r) => r.leader)).toEqual([true]);
    } finally {
      await store.close();
    }
  });
});
