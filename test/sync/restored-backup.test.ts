// A device whose store is restored from a backup taken before its last sync:
// the server confirmed some of its pending events under other clientSeqs
// meanwhile. Nothing it appends after the restore may be lost or rejected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../../src/core/event.ts';
import { deleteTestDatabase, uniqueStoreName } from '../../src/testing/index.ts';
import { backUpDatabase, restoreDatabase } from '../fixtures/idb-backup.ts';
import { model } from '../fixtures/model.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/** The server's ItemAdded refuses more than 100 of an item: the one event the server rejects below. */
const CheckedItemAdded = defineEvent({
  type: 'ItemAdded',
  version: 2,
  schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive().max(100), price: z.number().nonnegative() }),
  upcasters: { 1: (d: { sku: string; quantity: number; price: number }) => ({ sku: d.sku, qty: d.quantity, price: d.price }) },
});

let harness: Harness;
beforeAll(async () => {
  const others = model.events.filter((e) => e.type !== 'ItemAdded');
  harness = await startServer({ checkEvents: { events: [...others, CheckedItemAdded] }, limits: { rateLimit: false } });
});
afterAll(() => harness.close());

async function serverAggregates(log: string): Promise<string[]> {
  const reply = await fetch(`${harness.url}/v1/logs/${log}/pull?after=0&limit=1000`, { headers: { authorization: 'Bearer test-token' } });
  const body = (await reply.json()) as { events: { aggregateId: string }[] };
  return body.events.map((e) => e.aggregateId);
}

describe('a store restored from a backup', () => {
  it('whose queue the server renumbered meanwhile: an event appended after the restore reaches the server, only the refused one is rejected', async () => {
    const log = 'restored-backup';
    const name = uniqueStoreName('restored-backup');
    const network = { online: false };
    const gated: typeof fetch = (input, init) => (network.online ? fetch(input, init) : Promise.reject(new TypeError('offline')));
    const open = () => openClient(harness.url, { log, name, fetch: gated, noWebSocket: true });

    let store = await open();
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await store.append('o2', [{ type: 'ItemAdded', data: { sku: 'too-many', qty: 500, price: 1 } }]);
      await store.append('o3', [{ type: 'ItemAdded', data: { sku: 'fine', qty: 1, price: 1 } }]);
      await store.close();
      const backup = await backUpDatabase(name);

      // The server refuses o2; the client renumbers o3 down into its clientSeq and pushes it.
      network.online = true;
      store = await open();
      await store.sync.syncNow();
      expect((await store.sync.rejected()).map((r) => r.event.aggregateId)).toEqual(['o2']);
      await store.close();

      // Restored: o2 and o3 pending again under their old numbers; the next pull confirms o3 from the middle.
      network.online = false;
      await restoreDatabase(name, backup);
      store = await open();
      await store.append('o4', [{ type: 'OrderPlaced', data: { customerId: 'after the restore' } }]);
      network.online = true;
      await store.sync.syncNow();
      await store.sync.syncNow();

      expect((await serverAggregates(log)).sort()).toEqual(['o1', 'o3', 'o4']);
      expect((await store.sync.rejected()).map((r) => r.event.aggregateId)).toEqual(['o2']);
      expect(await store.sync.status()).toMatchObject({ pending: 0, lastError: null });
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });
});
