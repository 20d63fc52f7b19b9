import { describe, expect, it } from 'vitest';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';

/**
 * A store that closes while another store of its name leads (another tab, or
 * a long-lived store of a page that also opens short-lived ones) takes back
 * the Web Lock requests it was waiting on: the sync lock and each reaction's.
 * A request left waiting keeps its callback, and with it the whole closed
 * engine, until the leader lets go, which for a tab that stays open is never.
 */

const offline: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
const sync = { url: 'http://127.0.0.1:9', log: 'x', live: false, pollIntervalMs: 60_000, initialBackoffMs: 60_000, fetch: offline };
const notify = defineReaction({ name: 'notify', events: [ItemAdded], handlers: { ItemAdded: async () => undefined } });

/** Web Lock requests still waiting whose name holds `storeName` (the sync lock, the reactions'). */
async function waitingFor(storeName: string): Promise<string[]> {
  const { pending } = await navigator.locks.query();
  return (pending ?? []).map((lock) => lock.name ?? '').filter((name) => name.includes(storeName));
}

describe('a store closed while another of its name leads', () => {
  it('withdraws its waiting lock requests (engine on the page)', async () => {
    const name = uniqueStoreName('standby-locks');
    const leader = await openTestStore({ ...model, name, worker: false, sync, reactions: [notify] });
    try {
      const standby = await openTestStore({ ...model, name, worker: false, sync, reactions: [notify] });
      // The standby waits behind the leader for both locks.
      await expect.poll(() => waitingFor(name)).toHaveLength(2);
      await standby.close();
      expect(await waitingFor(name)).toEqual([]);
    } finally {
      await leader.dispose();
    }
  });
});
