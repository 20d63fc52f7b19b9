import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { EventOutcome } from '../../src/client/sync.ts';
import { defineEvent } from '../../src/core/event.ts';
import { eventually } from '../engine/modes.ts';
import { model } from '../fixtures/model.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * A server that checks pushed data (createSyncServer's checkEvents) and a
 * client whose build accepts what the server's definitions refuse (an older,
 * looser release, or a buggy one): the event gets the `rejected` outcome with
 * INVALID_EVENT, the events around it reach the server, and a second device
 * never folds the refused data.
 */

/** The server's ItemAdded: as the client's, but at most 100 of an item per line (a rule a later release added without a version). */
const StrictItemAdded = defineEvent({
  type: 'ItemAdded',
  version: 2,
  schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive().max(100), price: z.number().nonnegative() }),
  upcasters: {
    1: (data: { sku: string; quantity: number; price: number }) => ({ sku: data.sku, qty: data.quantity, price: data.price }),
  },
});

let harness: Harness;
beforeAll(async () => {
  const others = model.events.filter((e) => e.type !== 'ItemAdded');
  harness = await startServer({ checkEvents: { events: [...others, StrictItemAdded] }, limits: { rateLimit: false } });
});
afterAll(() => harness.close());

describe('a server that checks data, and a client that appended what it refuses', () => {
  it('the refused event is rejected with INVALID_EVENT; the rest is stored, and another device never sees it', async () => {
    let fences = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith('/fence')) fences++;
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: counting });
    const b = await openClient(harness.url);
    try {
      const outcomes: EventOutcome[] = [];
      a.sync.onOutcome((o) => outcomes.push(...o));
      await a.sync.pause();
      await a.append('checked-1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.append('checked-1', [{ type: 'ItemAdded', data: { sku: 'tea', qty: 500, price: 1 } }]);
      await a.append('checked-1', [{ type: 'ItemAdded', data: { sku: 'cup', qty: 2, price: 3 } }]);
      await a.append('checked-1', [{ type: 'ItemAdded', data: { sku: 'pot', qty: 101, price: 1 } }]);
      await a.sync.resume();
      await a.sync.syncNow();

      await eventually(() => expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(2));
      const rejected = await a.sync.rejected();
      expect(rejected.map((r) => [r.code, (r.event.data as { sku: string }).sku]).sort()).toEqual([
        ['INVALID_EVENT', 'pot'],
        ['INVALID_EVENT', 'tea'],
      ]);
      expect(rejected.every((r) => /data\.qty/.test(r.reason))).toBe(true);
      // Both refused in one reply, so rejected in one go: one fence before renumbering (and at most one for a rebase), not two each.
      expect(fences).toBeLessThanOrEqual(2);
      expect((await a.sync.status()).pending).toBe(0);

      await b.sync.syncNow();
      const order = await b.load(model.aggregates[0]!, 'checked-1');
      expect(order).toMatchObject({ version: 2, state: { total: 6, lines: { cup: { qty: 2, price: 3 } } } });
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
