import { describe, expect, it } from 'vitest';
import { ConfigError, InUseError, StoreClosedError } from '../../src/core/errors.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model, Revenue } from '../fixtures/model.ts';
import { history, importAll } from '../fixtures/history.ts';
import { eventually, modes } from './modes.ts';
import { openChronicleDb } from '../../worker/db.ts';

/**
 * store.forget() (README, "Compaction / retention"): the checkpoint of a
 * projection, replay job or reaction the app no longer uses stops holding
 * compaction back, while anything still in use is refused and left as it is.
 */

const DROP_ALL = { retention: { maxEvents: 0 }, measure: false } as const;

/** The reactions' processed and parked records stored in the store's database. */
async function reactionRecords(storeName: string): Promise<{ processed: number; parked: number }> {
  const db = await openChronicleDb(storeName, { onGone: () => undefined });
  try {
    return { processed: await db.count('processed'), parked: await db.count('parked') };
  } finally {
    db.close();
  }
}

describe.each(modes)('store.forget ($mode)', ({ worker }) => {
  const open = (name: string, extra: Omit<Parameters<typeof openTestStore>[0], 'name' | 'worker'> = {}) =>
    openTestStore({ ...model, ...extra, worker, name });

  it('lets go of a projection the app stopped using, and refuses one this store uses', async () => {
    const name = uniqueStoreName('forget-projection');
    const before = await open(name);
    await importAll(before, history({ pages: 10, perPage: 10, orders: 2 }));
    await before.projection(Revenue).get(); // its checkpoint is stored at 100
    await before.close();

    const store = await open(name);
    try {
      await importAll(store, history({ pages: 3, perPage: 10, orders: 2, start: 101 }));
      const held = await store.compact(DROP_ALL);
      expect(held).toMatchObject({ historyStartsAt: 101 });
      expect(held.blockedBy).toEqual([expect.objectContaining({ kind: 'projection', name: 'revenue', position: 100 })]);

      expect(await store.forget({ kind: 'projection', name: 'revenue' })).toEqual({ forgotten: true });
      expect(await store.forget({ kind: 'projection', name: 'revenue' })).toEqual({ forgotten: false });
      const after = await store.compact(DROP_ALL);
      expect(after).toMatchObject({ historyStartsAt: 131, blockedBy: [] });

      // Used by this store: refused, its checkpoint kept.
      await store
        .projection(Revenue)
        .get()
        .catch(() => undefined); // folding from the start over dropped history fails; the handle exists
      const refused = await store.forget({ kind: 'projection', name: 'revenue' }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(InUseError);
      expect(refused).toMatchObject({ code: 'IN_USE', kind: 'projection', target: 'revenue', where: 'this-store' });
    } finally {
      await store.dispose();
    }
  });

  it('lets go of a reaction no tab runs: it holds compaction no more, and registered again it starts from then', async () => {
    const name = uniqueStoreName('forget-reaction');
    const charged: string[] = [];
    const Charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      origin: 'any', // the history below is another client's
      startFrom: 'beginning',
      maxAttempts: 1,
      handlers: {
        ItemAdded: (event) => {
          if (event.id === 'c-7') throw new Error('card declined'); // parked
          charged.push(event.id);
        },
      },
    });
    const runner = await open(name, { reactions: [Charge] });
    await importAll(runner, history({ pages: 2, perPage: 10, orders: 2 }));
    await eventually(async () => expect((await runner.reactions.status())[0]).toMatchObject({ confirmedThrough: 20 }));
    expect(charged).toHaveLength(19);

    const store = await open(name);
    try {
      // Another tab (here: store) cannot take it from the one running it.
      const running = await store.forget({ kind: 'reaction', name: 'charge' }).catch((error: unknown) => error);
      expect(running).toBeInstanceOf(InUseError);
      expect(running).toMatchObject({ where: 'another-tab' });
      await runner.close();
      await importAll(store, history({ pages: 2, perPage: 10, orders: 2, start: 21 }));
      // The runner handled what it saw; events stored after it closed keep compaction at its checkpoint.
      expect((await store.compact(DROP_ALL)).blockedBy).toEqual([expect.objectContaining({ kind: 'reaction', name: 'charge' })]);
      const chargedBefore = charged.length;

      // Compaction dropped the processed records with the pages; the parked event stays until forgotten.
      expect(await reactionRecords(name)).toEqual({ processed: 0, parked: 1 });
      expect(await store.forget({ kind: 'reaction', name: 'charge' })).toEqual({ forgotten: true });
      expect(await reactionRecords(name)).toEqual({ processed: 0, parked: 0 });
      expect(await store.reactions.status()).toEqual([]);
      expect(await store.compact(DROP_ALL)).toMatchObject({ historyStartsAt: 41, blockedBy: [] });
      expect(await store.forget({ kind: 'reaction', name: 'charge' })).toEqual({ forgotten: false });

      // Registered again (startFrom 'beginning'): nothing stored before comes to it, what comes after does, once.
      await importAll(store, history({ pages: 1, perPage: 10, orders: 2, start: 41 }));
      const again = await open(name, { reactions: [Charge] });
      try {
        await importAll(again, history({ pages: 1, perPage: 5, orders: 2, start: 51 }));
        await eventually(async () => expect((await again.reactions.status())[0]).toMatchObject({ confirmedThrough: 55 }));
        expect(charged.slice(chargedBefore)).toEqual(['c-51', 'c-52', 'c-53', 'c-54', 'c-55']);
        const refused = await again.forget({ kind: 'reaction', name: 'charge' }).catch((error: unknown) => error);
        expect(refused).toMatchObject({ code: 'IN_USE', where: 'this-store' });
      } finally {
        await again.close();
      }
    } finally {
      await runner.close();
      await store.dispose();
    }
  });

  it('a runner that meets its reaction forgotten (a forget() that raced its start) starts it again from then', async () => {
    const name = uniqueStoreName('forget-race');
    const Notify = defineReaction({ name: 'notify', events: [ItemAdded], origin: 'any', handlers: { ItemAdded: () => undefined } });
    const store = await open(name, { reactions: [Notify] });
    try {
      await importAll(store, history({ pages: 1, perPage: 10, orders: 2 }));
      await eventually(async () => expect((await store.reactions.status())[0]).toMatchObject({ confirmedThrough: 10 }));
      // What forget() in another tab leaves, written while this tab had registered the reaction but not yet run it.
      const db = await openChronicleDb(name, { onGone: () => undefined });
      try {
        const record = (await db.get('reactions', 'notify'))!;
        await db.put('reactions', { ...record, forgottenAt: Date.now() }, 'notify');
      } finally {
        db.close();
      }
      await importAll(store, history({ pages: 1, perPage: 10, orders: 2, start: 11 }));
      // The runner's next pass starts it as new: listed again, and its checkpoint holds compaction again.
      await eventually(async () => expect(await store.reactions.status()).toEqual([expect.objectContaining({ name: 'notify' })]));
      const check = await openChronicleDb(name, { onGone: () => undefined });
      try {
        expect((await check.get('reactions', 'notify'))!.forgottenAt).toBeUndefined();
      } finally {
        check.close();
      }
    } finally {
      await store.dispose();
    }
  });

  it('lets go of a stopped replay job: compaction passes its checkpoint and a rerun starts from the start', async () => {
    const store = await open(uniqueStoreName('forget-job'));
    try {
      await importAll(store, history({ pages: 4, perPage: 10, orders: 2 }));
      const controller = new AbortController();
      let handled = 0;
      const stopped = await store
        .replay({
          name: 'reindex',
          handler: () => {
            if (++handled === 15) controller.abort();
          },
          signal: controller.signal,
          checkpointEvery: 5,
        })
        .catch((error: unknown) => error);
      expect(stopped).toMatchObject({ code: 'ABORTED' });
      expect((await store.compact(DROP_ALL)).blockedBy).toEqual([expect.objectContaining({ kind: 'job', name: 'reindex' })]);

      expect(await store.forget({ kind: 'job', name: 'reindex' })).toEqual({ forgotten: true });
      expect(await store.compact(DROP_ALL)).toMatchObject({ historyStartsAt: 41, blockedBy: [] });
      await importAll(store, history({ pages: 1, perPage: 10, orders: 2, start: 41 }));
      const rerun = await store.replay({ name: 'reindex', handler: () => undefined });
      expect(rerun.processed).toBe(10);

      // A job of that name running in this store is refused.
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = store.replay({ name: 'slow', handler: () => gate });
      await eventually(async () =>
        expect(await store.forget({ kind: 'job', name: 'slow' }).catch((e: unknown) => e)).toBeInstanceOf(InUseError),
      );
      release();
      await slow;
      expect(await store.forget({ kind: 'job', name: 'slow' })).toEqual({ forgotten: true });
    } finally {
      await store.dispose();
    }
  });

  it('refuses what it cannot forget with ConfigError, and calls after close with StoreClosedError', async () => {
    const store = await open(uniqueStoreName('forget-input'));
    for (const target of [
      null,
      {},
      { kind: 'aggregate', name: 'o1' },
      { kind: 'unindexed', name: 'x' },
      { kind: 'projection', name: '' },
      { kind: 'job' },
    ]) {
      await expect(store.forget(target as never)).rejects.toBeInstanceOf(ConfigError);
    }
    await store.dispose();
    await expect(store.forget({ kind: 'projection', name: 'revenue' })).rejects.toBeInstanceOf(StoreClosedError);
  });
});
