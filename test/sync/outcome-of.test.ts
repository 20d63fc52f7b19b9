import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * sync.outcomeOf(ids): where each event stands now, read from what is
 * stored. onOutcome tells an outcome once, to the tabs open when it is
 * decided; an app that was not listening then (the tab reloaded right after
 * the commit that confirmed its order) asks this when it opens.
 */

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });
const placed = { type: 'OrderPlaced' as const, data: { customerId: 'c' } };

let harness: Harness;
beforeAll(async () => {
  // Events over 600 bytes are refused for good (413): a way to get a rejected event.
  harness = await startServer({ limits: { maxEventBytes: 600, rateLimit: false } });
});
afterAll(() => harness.close());

describe('sync.outcomeOf', () => {
  it('says pending, confirmed (with position), rejected (with reason) or unknown, in the order asked, also after a reopen', async () => {
    const name = `outcome-of-${Math.random().toString(36).slice(2)}`;
    const first = await openClient(harness.url, { name, log: `outcome-of-${name}` });
    const [confirmedId, rejectedId] = await (async () => {
      await first.sync.pause();
      const ok = await first.append('of-1', [placed]);
      const poison = await first.append('of-2', [item('x'.repeat(1000))]); // over the server's 600 bytes
      await first.sync.resume();
      await first.sync.syncNow();
      return [ok.events[0]!.id, poison.events[0]!.id];
    })();
    await first.sync.pause();
    const pendingId = (await first.append('of-1', [item('later')])).events[0]!.id;
    const unknownId = '0190f2a0-0000-7000-8000-000000000000';

    const states = await first.sync.outcomeOf([pendingId, unknownId, confirmedId, rejectedId, confirmedId]);
    expect(states).toEqual([
      { id: pendingId, status: 'pending', aggregateId: 'of-1', type: 'ItemAdded', seq: 2 },
      { id: unknownId, status: 'unknown' },
      { id: confirmedId, status: 'confirmed', aggregateId: 'of-1', type: 'OrderPlaced', seq: 1, position: 1 },
      { id: rejectedId, status: 'rejected', aggregateId: 'of-2', type: 'ItemAdded', reason: expect.stringMatching(/600/) },
      { id: confirmedId, status: 'confirmed', aggregateId: 'of-1', type: 'OrderPlaced', seq: 1, position: 1 },
    ]);
    await first.close();

    // The next session reads the same from what is stored, and a dismissed rejection is no longer known.
    const again = await openClient(harness.url, { name, log: `outcome-of-${name}` });
    try {
      await again.sync.resume();
      await again.sync.syncNow();
      await again.sync.dismissRejected([rejectedId]);
      // Read from the index once the engine has indexed the confirmed pages (it does when idle), as before from the pages.
      await eventually(async () => expect((await again.info()).unindexedEvents).toBe(0));
      expect(await again.sync.outcomeOf([pendingId, confirmedId, rejectedId])).toEqual([
        { id: pendingId, status: 'confirmed', aggregateId: 'of-1', type: 'ItemAdded', seq: 2, position: 2 },
        { id: confirmedId, status: 'confirmed', aggregateId: 'of-1', type: 'OrderPlaced', seq: 1, position: 1 },
        { id: rejectedId, status: 'unknown' },
      ]);
      expect(await again.sync.outcomeOf([])).toEqual([]);
    } finally {
      await again.dispose();
    }
  });

  it('refuses anything but an array of ids with a ValidationError', async () => {
    const store = await openClient(harness.url);
    try {
      for (const bad of [undefined, null, 'id', [1], [{}]]) {
        await expect(store.sync.outcomeOf(bad as unknown as string[])).rejects.toMatchObject({ code: 'VALIDATION' });
      }
    } finally {
      await store.dispose();
    }
  });
});
