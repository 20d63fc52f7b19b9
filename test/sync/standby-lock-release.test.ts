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

describe('closed standby stores are released', () => {
  it('a store closed while another store of its name holds the sync lock is not kept alive', async () => {
    const name = uniqueStoreName('standby-sync');
    const leader = await openStore({ ...model, name, worker: false, sync: { ...syncOptions, fetch: offline } });
    const refs: WeakRef<object>[] = [];
    try {
      for (let i = 0; i < N; i++) {
        // Each closed store's own fetch function: reachable only through that store's engine.
        const ownFetch: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
        refs.push(new WeakRef(ownFetch));
        const standby = await openStore({ ...model, name, worker: false, sync: { ...syncOptions, fetch: ownFetch } });
        await standby.close();
      }
      await collect();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
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
    const refs: WeakRef<object>[] = [];
    try {
      for (let i = 0; i < N; i++) {
        const handler = async (): Promise<void> => undefined;
        refs.push(new WeakRef(handler));
        const standby = await openStore({ ...model, name, worker: false, reactions: [reaction(handler)] });
        await standby.close();
      }
      await collect();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
      expect(alive).toBeLessThanOrEqual(2);
    } finally {
      await leader.close();
    }
  });
});
