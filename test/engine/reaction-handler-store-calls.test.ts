import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/client/index.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, OrderShipped } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

/**
 * A reaction handler usually uses the store it runs in: it loads the state it
 * acts on and appends the event that records its effect (a charge, a mail).
 * Those calls must see the live log and go through however the tab is being
 * used meanwhile: closed (close() lets the handler in flight finish) or
 * travelling in time in the devtools.
 */

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });
const placed = { type: 'OrderPlaced' as const, data: { customerId: 'c' } };

interface Call {
  eventId: string;
  attempt: number;
  redelivery: boolean;
  total?: number;
  error?: string;
}

describe.each(modes)('reaction handlers that use their store ($mode)', ({ worker }) => {
  it('close() during a handler lets the handler append its follow-up: the charge runs once, across the reopen', async () => {
    const name = uniqueStoreName('handler-close');
    const calls: Call[] = [];
    let releaseCharge!: () => void;
    const chargeAnswered = new Promise<void>((resolve) => (releaseCharge = resolve));
    let store: Store | undefined;
    const charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      backoff: { initialMs: 1, maxMs: 5 },
      handlers: {
        ItemAdded: async (event, ctx) => {
          const call: Call = { eventId: event.id, attempt: ctx.attempt, redelivery: ctx.redelivery };
          calls.push(call);
          await chargeAnswered; // the payment provider answers after close() began
          try {
            await store!.append(`payment-${event.aggregateId}`, [placed]);
          } catch (error) {
            call.error = (error as Error).name;
            throw error;
          }
        },
      },
    });
    store = await openStore({ ...model, name, worker, reactions: [charge] });
    const first = store;
    try {
      await first.append('o1', [placed, item('a')]);
      await eventually(() => expect(calls).toHaveLength(1));
      const closing = first.close();
      // The app's own calls are refused once close() began and no handler runs: here one still does.
      releaseCharge();
      await closing;
      await expect(first.append('o2', [placed])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    } finally {
      await first.close();
    }

    store = await openStore({ ...model, name, worker, reactions: [charge] });
    try {
      await eventually(async () => expect((await store!.reactions.status())[0]!.caughtUp).toBe(true));
      expect(calls).toEqual([{ eventId: calls[0]!.eventId, attempt: 1, redelivery: false }]);
      const payments = await collect(store.readStream('payment-o1'));
      expect(payments.map((e) => e.type)).toEqual(['OrderPlaced']);
      expect(await store.reactions.parked('charge')).toEqual([]);
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it("while the leading tab travels in time, handlers wait and then see the live log's state", async () => {
    const calls: Call[] = [];
    // The store the handlers use, once it is open.
    const opened: { store?: Store } = {};
    const charge = defineReaction({
      name: 'charge',
      events: [OrderShipped],
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 5 },
      handlers: {
        OrderShipped: async (event, ctx) => {
          const { state } = await opened.store!.load(Order, event.aggregateId);
          const call: Call = { eventId: event.id, attempt: ctx.attempt, redelivery: ctx.redelivery, total: state.total };
          calls.push(call);
          await opened.store!.append(`payment-${event.aggregateId}`, [placed]);
        },
      },
    });
    const test = await openTestStore({ ...model, worker, reactions: [charge] });
    opened.store = test;
    const other = await openStore({ ...model, name: test.name, worker });
    try {
      await test.append('o1', [placed, item('a', 1, 10)]);
      const [firstEvent] = (await collect(test.scan({}, { batchEvents: 10 }))).flat();
      test.timeTravel.to(firstEvent!.cursor);
      // Another tab ships the order while this one (the reactions' leader) shows the past.
      await other.append('o1', [item('b', 2, 50), { type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls).toEqual([]);

      test.timeTravel.resume();
      await eventually(async () => expect((await test.reactions.status())[0]!.caughtUp).toBe(true));
      expect(calls).toEqual([{ eventId: calls[0]!.eventId, attempt: 1, redelivery: false, total: 110 }]);
      expect(await test.reactions.parked('charge')).toEqual([]);
      expect((await collect(test.readStream('payment-o1'))).length).toBe(1);
    } finally {
      await other.close();
      await test.dispose();
    }
  });

  it('a handler whose append time travel refused is called again once the tab is back, flagged, and not parked', async () => {
    const calls: Call[] = [];
    // The store the handlers use, once it is open.
    const opened: { store?: Store } = {};
    let travelNow: (() => void) | undefined;
    const charge = defineReaction({
      name: 'charge',
      events: [OrderShipped],
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 5 },
      handlers: {
        OrderShipped: async (event, ctx) => {
          const call: Call = { eventId: event.id, attempt: ctx.attempt, redelivery: ctx.redelivery };
          calls.push(call);
          // The developer starts travelling while the handler waits for its payment provider.
          travelNow?.();
          travelNow = undefined;
          try {
            await opened.store!.append(`payment-${event.aggregateId}`, [placed]);
          } catch (error) {
            call.error = (error as Error).name;
            throw error;
          }
        },
      },
    });
    const test = await openTestStore({ ...model, worker, reactions: [charge] });
    opened.store = test;
    try {
      await test.append('o1', [placed]);
      const [firstEvent] = (await collect(test.scan({}, { batchEvents: 10 }))).flat();
      travelNow = () => test.timeTravel.to(firstEvent!.cursor);
      await test.append('o1', [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await eventually(() => expect(calls).toHaveLength(1));
      await eventually(() => expect(calls[0]!.error).toBe('TimeTravelError'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(calls).toHaveLength(1);

      test.timeTravel.resume();
      await eventually(async () => expect((await test.reactions.status())[0]!.caughtUp).toBe(true));
      const eventId = calls[0]!.eventId;
      expect(calls).toEqual([
        { eventId, attempt: 1, redelivery: false, error: 'TimeTravelError' },
        { eventId, attempt: 1, redelivery: true },
      ]);
      expect(await test.reactions.parked('charge')).toEqual([]);
      expect((await collect(test.readStream('payment-o1'))).length).toBe(1);
    } finally {
      await test.dispose();
    }
  });
});
