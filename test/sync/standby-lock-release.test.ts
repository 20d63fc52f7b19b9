/**
 * A store closed while another store of its name holds the sync lock or a
 * reaction's lock (a long-lived store, and short-lived ones a route or a
 * sign-in screen opens and closes) must not stay in memory. Its lock request
 * used to wait in the queue (worker/sync/leader-lock.ts) with a callback that
 * kept the whole closed engine reachable, the app's fetch and handlers
 * included, until the leader closed. Node side (the process lock); the Web
 * Locks side is test/browser/standby-locks.test.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/client/index.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const collect = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
  }
};

const offline: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
const syncOptions = {
  url: 'http://127.0.0.1:9',
  log: 'x',
  live: false,
  pollIntervalMs: 60_000,
  initialBackoffMs: 60_000,
  maxBackoffMs: 60_000,
};
const N = 30;

/**
 * Opens and closes N stores, each given a function of its own (its fetch, its reaction's handler) that only
 * its engine refers to; how many of those functions are still reachable after a full collection.
 */
async function stillReachable(open: (own: () => Promise<never>) => Promise<{ close(): Promise<void> }>): Promise<number> {
  const refs: WeakRef<() => Promise<never>>[] = [];
  for (let i = 0; i < N; i++) {
    const own = (): Promise<never> => Promise.reject(new TypeError('fetch failed'));
    refs.push(new WeakRef(own));
    const standby = await open(own);
    await standby.close();
  }
  await collect();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

describe('closed standby stores are released', () => {
  it('a store closed while another store of its name holds the sync lock is not kept alive', async () => {
    const name = uniqueStoreName('standby-sync');
    const leader = await openStore({ ...model, name, worker: false, sync: { ...syncOptions, fetch: offline } });
    try {
      // Each closed store's own fetch function: reachable only through that store's engine.
      const alive = await stillReachable((ownFetch) =>
        openStore({ ...model, name, worker: false, sync: { ...syncOptions, fetch: ownFetch } }),
      );
      // Before the fix all N stayed reachable until `leader` closed; a collection may leave one or two.
      expect(alive).toBeLessThanOrEqual(2);
    } finally {
      await leader.close();
    }
  });

  it("a store closed while another store of its name holds a reaction's lock is not kept alive", async () => {
    const name = uniqueStoreName('standby-reaction');
    const reaction = (handler: () => Promise<void>) =>
      defineReaction({ name: 'notify', events: [ItemAdded], handlers: { ItemAdded: handler } });
    const leader = await openStore({ ...model, name, worker: false, reactions: [reaction(async () => undefined)] });
    try {
      const alive = await stillReachable((handler) => openStore({ ...model, name, worker: false, reactions: [reaction(handler)] }));
      expect(alive).toBeLessThanOrEqual(2);
    } finally {
      await leader.close();
    }
  });
});
