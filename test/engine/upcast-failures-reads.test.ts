// An event whose upcast fails fails only the reads that need it (README, Errors): time travel's and
// devtools' projection folds and a replay filtered to other types look at it without upcasting it,
// while the same reads that do need it still fail loudly with UPCAST.
import { describe, expect, it } from 'vitest';
import type { WorkerOption } from '../../src/client/connection.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { OrderV1, OrderV2, Takings } from '../fixtures/broken-upcast.ts';
import { collect, modes } from './modes.ts';

/** Old build: a v1 Note and a payment on 'mixed' (one stream), and a payment on 'paid'. */
async function withOldEvents(name: string, worker: WorkerOption): Promise<void> {
  const old = await openTestStore({ name, aggregates: [OrderV1], worker });
  await old.append('mixed', [
    { type: 'Note', data: { text: 'ring twice' } },
    { type: 'Paid', data: { cents: 100 } },
  ]);
  await old.append('paid', [{ type: 'Paid', data: { cents: 900 } }]);
  await old.close();
}

describe.each(modes)('reads that do not need an event whose upcast fails ($mode)', ({ worker }) => {
  it('inspectProjection of a projection over other types folds without it', async () => {
    const name = uniqueStoreName('upcast-reads');
    await withOldEvents(name, worker);
    const store = await openTestStore({ name, aggregates: [OrderV2], projections: [Takings], worker });
    try {
      // The live projection works (types-filtered scan)...
      expect((await store.projection(Takings).get()).state.cents).toBe(1000);
      // ...and so does the same projection inspected (devtools' what-if), which scans every event.
      expect(await store.inspectProjection(Takings, {})).toEqual({ cents: 1000 });
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('projection(...).get() while time travelling folds without it', async () => {
    const name = uniqueStoreName('upcast-reads');
    await withOldEvents(name, worker);
    const store = await openTestStore({ name, aggregates: [OrderV2], projections: [Takings], worker });
    try {
      const entries = (await collect(store.scan({ types: ['Paid'] }))).flat();
      store.timeTravel.to(entries.at(-1)!.cursor);
      expect((await store.projection(Takings).get()).state.cents).toBe(1000);
    } finally {
      store.timeTravel.resume();
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('replay of one aggregate filtered to other types hands over its events of those types', async () => {
    const name = uniqueStoreName('upcast-reads');
    await withOldEvents(name, worker);
    const store = await openTestStore({ name, aggregates: [OrderV2], worker });
    try {
      // readLog filtered the same way works:
      expect((await collect(store.readLog({ aggregateIds: ['mixed'], types: ['Paid'] }))).map((e) => e.data)).toEqual([{ cents: 100 }]);
      const seen: unknown[] = [];
      await store.replay({ filter: { aggregateId: 'mixed', types: ['Paid'] }, handler: (e) => void seen.push(e.data) });
      expect(seen).toEqual([{ cents: 100 }]);
      // A replay that needs the Note fails on it, as a read of it does.
      await expect(store.replay({ filter: { aggregateId: 'mixed' }, handler: () => undefined })).rejects.toMatchObject({ code: 'UPCAST' });
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });
});
