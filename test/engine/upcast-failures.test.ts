// An old event whose upcast fails (its upcaster throws, or returns data its current schema refuses)
// fails the reads that need it, and only those: pages hold many aggregates' events, and one bad
// event must not stop loads of other orders, projections or reactions over other types. A
// reaction over its type never hands it to a handler in a shape the schema refuses, nor passes
// it by: it stops before it, as for an event of a newer version, and says so.
import { describe, expect, it } from 'vitest';
import { defineReaction } from '../../src/core/index.ts';
import type { WorkerOption } from '../../src/client/connection.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { Paid, NoteV2, OrderV1, OrderV2, Takings } from '../fixtures/broken-upcast.ts';
import { collect, eventually, modes } from './modes.ts';

/** A store of the old build holding a v1 Note on 'noted' and a payment on 'paid', in one page. */
async function withOldEvents(name: string, worker: WorkerOption): Promise<void> {
  const old = await openTestStore({ name, aggregates: [OrderV1], worker });
  await old.appendBatch([
    { aggregateId: 'noted', events: [{ type: 'Note', data: { text: 'ring twice' } }] },
    { aggregateId: 'paid', events: [{ type: 'Paid', data: { cents: 900 } }] },
  ]);
  await old.close();
}

describe.each(modes)('an event whose upcast fails ($mode)', ({ worker }) => {
  it('fails the load of its own aggregate with UPCAST, and nothing else: other orders, type-filtered reads, projections', async () => {
    const name = uniqueStoreName('upcast');
    await withOldEvents(name, worker);
    const store = await openTestStore({ name, aggregates: [OrderV2], projections: [Takings], worker });
    try {
      await expect(store.load(OrderV2, 'noted')).rejects.toMatchObject({
        code: 'UPCAST',
        details: { eventType: 'Note', path: 'data.length' },
      });
      expect((await store.load(OrderV2, 'paid')).state.cents).toBe(900);
      expect((await collect(store.readLog({ types: ['Paid'] }))).map((e) => e.data)).toEqual([{ cents: 900 }]);
      expect((await collect(store.readStream('paid'))).map((e) => e.type)).toEqual(['Paid']);
      expect((await store.projection(Takings).get()).state.cents).toBe(900);
      // A read that asks for it still fails loudly: no state is folded from a shape the schema refuses.
      await expect(collect(store.readLog())).rejects.toMatchObject({ code: 'UPCAST' });
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('lets a reaction over other types charge every payment', async () => {
    const name = uniqueStoreName('upcast');
    const charged: number[] = [];
    const Charge = defineReaction({ name: 'charge', events: [Paid], handlers: { Paid: (e) => void charged.push(e.data.cents) } });
    const store = await openTestStore({ name, aggregates: [OrderV2], reactions: [Charge], worker });
    try {
      const old = await openTestStore({ name, aggregates: [OrderV1], worker });
      await old.appendBatch([
        { aggregateId: 'noted', events: [{ type: 'Note', data: { text: 'ring twice' } }] },
        { aggregateId: 'paid', events: [{ type: 'Paid', data: { cents: 900 } }] },
      ]);
      await old.close();
      await store.append('later', [{ type: 'Paid', data: { cents: 5 } }], { aggregate: OrderV2 });
      await eventually(() => expect(charged).toEqual([900, 5]), 5_000);
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('keeps a log subscription going: the event comes as one this build cannot read, and what follows it comes too', async () => {
    const name = uniqueStoreName('upcast');
    const store = await openTestStore({ name, aggregates: [OrderV2], worker });
    const heard: [string, boolean][] = [];
    const stop = store.subscribeLog((events) => heard.push(...events.map((e): [string, boolean] => [e.type, e.known])));
    try {
      const old = await openTestStore({ name, aggregates: [OrderV1], worker });
      await old.append('noted', [{ type: 'Note', data: { text: 'ring twice' } }]);
      await old.close();
      await store.append('paid', [{ type: 'Paid', data: { cents: 5 } }], { aggregate: OrderV2 });
      await eventually(() =>
        expect(heard).toEqual([
          ['Note', false],
          ['Paid', true],
        ]),
      );
    } finally {
      stop();
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('stops a reaction over its type before it: never handed over in a shape the schema refuses, never passed by, and said so in status()', async () => {
    const name = uniqueStoreName('upcast');
    const handled: unknown[] = [];
    const Remind = defineReaction({
      name: 'remind',
      events: [NoteV2, Paid],
      startFrom: 'beginning',
      handlers: { Note: (e) => void handled.push(e.data), Paid: (e) => void handled.push(e.data) },
    });
    await withOldEvents(name, worker);
    const store = await openTestStore({ name, aggregates: [OrderV2], reactions: [Remind], worker });
    try {
      await eventually(async () => {
        const [status] = await store.reactions.status();
        expect(status).toMatchObject({ name: 'remind', caughtUp: false, unreadable: { type: 'Note', storedVersion: 1 } });
      }, 5_000);
      // The payment stored after the Note waits behind it, as the reaction's order says.
      expect(handled).toEqual([]);
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });
});
