import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineReaction } from '../../src/core/reaction.ts';
import { ItemAdded } from '../fixtures/model.ts';
import { eventually } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * "A payment charged once" across devices that sync one log: a reaction acts
 * on the events its own client appended (origin 'own', the default), so a
 * second device, or the same browser after its site data was cleared, does
 * not charge the orders it pulls from the server again.
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

function charging(charges: string[], device: string, on: 'local' | 'confirmed', origin?: 'own' | 'any') {
  return defineReaction({
    name: `${origin === 'any' ? 'notify' : 'charge'}-${on}`,
    events: [ItemAdded],
    on,
    origin,
    handlers: { ItemAdded: (event) => void charges.push(`${device}:${event.data.sku}`) },
  });
}

describe('reactions on several devices', () => {
  it.each(['local', 'confirmed'] as const)('on: %s — each order is charged once, by the device that took it', async (on) => {
    const log = `devices-${on}`;
    const charges: string[] = [];
    const notices: string[] = [];
    const a = await openClient(harness.url, { log, reactions: [charging(charges, 'a', on), charging(notices, 'a', on, 'any')] });
    try {
      await a.append(`${on}-a`, [
        { type: 'OrderPlaced', data: { customerId: 'c1' } },
        ...['tea', 'cup'].map((sku) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } })),
      ]);
      await a.sync.syncNow();
      await eventually(() => expect(charges).toEqual(['a:tea', 'a:cup']));

      // A second device (or this browser after its site data was cleared: a new store, a new clientId).
      const b = await openClient(harness.url, { log, reactions: [charging(charges, 'b', on)] });
      try {
        await b.sync.syncNow();
        await b.append(`${on}-b`, [
          { type: 'OrderPlaced', data: { customerId: 'c2' } },
          { type: 'ItemAdded', data: { sku: 'pot', qty: 1, price: 1 } },
        ]);
        await b.sync.syncNow();
        await a.sync.syncNow();
        await eventually(() => expect(charges).toEqual(['a:tea', 'a:cup', 'b:pot']));
        // origin 'any' is every client's events on every device that runs it: a's notices include b's order.
        await eventually(() => expect(notices).toEqual(['a:tea', 'a:cup', 'a:pot']));
        await eventually(async () => expect((await b.reactions.status()).every((s) => s.caughtUp)).toBe(true));
        await eventually(async () => expect((await a.reactions.status()).every((s) => s.caughtUp)).toBe(true));
        expect(charges).toEqual(['a:tea', 'a:cup', 'b:pot']);
      } finally {
        await b.dispose();
      }
    } finally {
      await a.dispose();
    }
  });
});
