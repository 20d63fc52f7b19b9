import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventOutcome } from '../../src/client/index.ts';
import { defineAggregate } from '../../src/core/index.ts';
import { StrictOrder } from '../fixtures/model.ts';
import { logOf, openClient, startServer, type Client, type Harness } from './harness.ts';

/**
 * A rebase while the app keeps appending (a till's scanner in another tab,
 * one order after another): the rebase is planned, the app's rule decides,
 * the client fences the server, and only then is the plan applied. Appends to
 * other aggregates in between must not spoil the plan, or the device stops
 * syncing for as long as the appends go on (REBASE_FAILED every round).
 * Appends to an aggregate being rebased must: the app's rule has not seen them.
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });
const placed = { type: 'OrderPlaced' as const, data: { customerId: 'c' } };

/** A fetch that runs `onFence` before each fence request is sent, and counts them. */
function fenceHook(onFence: (count: number) => Promise<void>): { fetch: typeof fetch; fences: () => number } {
  let fences = 0;
  return {
    fetch: async (input, init) => {
      if (String(input).endsWith('/fence')) await onFence(++fences);
      return fetch(input, init);
    },
    fences: () => fences,
  };
}

/** Client `a` has shipped order `id` on the server, while client `b` (offline) added `sku` to it. */
async function shippedWhileOffline(a: Client, b: Client, id: string, sku: string): Promise<void> {
  await a.append(id, [placed]);
  await a.sync.syncNow();
  await b.sync.syncNow();
  await b.sync.pause();
  await a.append(id, [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
  await a.sync.syncNow();
  await b.append(id, [item(sku)]);
}

describe('a rebase while the app keeps appending', () => {
  it('appends to other aggregates between the plan and its transaction do not stop it, and the server is fenced once', async () => {
    // Every time the client fences, the app has appended another order meanwhile.
    const hook = fenceHook(async (count) => {
      await b.append(`scan-${count}`, [placed]);
    });
    const a = await openClient(harness.url, { log: 'rebase-appending-1', aggregates: [StrictOrder] });
    const b = await openClient(harness.url, { log: 'rebase-appending-1', aggregates: [StrictOrder], fetch: hook.fetch });
    try {
      await shippedWhileOffline(a, b, 'o1', 'late');
      const outcomes: EventOutcome[] = [];
      b.sync.onOutcome((o) => outcomes.push(...o));
      await b.sync.resume();
      await b.sync.syncNow();

      expect(hook.fences()).toBe(1);
      expect((await b.sync.status()).lastError).toBeNull();
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.type)).toEqual(['ItemAdded']);
      // The order appended during the fence went to the server with the rest.
      await a.sync.syncNow();
      expect(await logOf(b)).toEqual(await logOf(a));
      expect((await logOf(a)).map((e) => e.aggregateId)).toEqual(['o1', 'o1', 'scan-1']);
      expect((await b.sync.status()).pending).toBe(0);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('an append to the aggregate being rebased makes the client plan again, so the rule decides on it too', async () => {
    // During the first fence, the app adds one more item to the order being rebased.
    const hook = fenceHook(async (count) => {
      if (count === 1) await b.append('o2', [item('later')]);
    });
    const a = await openClient(harness.url, { log: 'rebase-appending-2', aggregates: [StrictOrder] });
    const b = await openClient(harness.url, { log: 'rebase-appending-2', aggregates: [StrictOrder], fetch: hook.fetch });
    try {
      await shippedWhileOffline(a, b, 'o2', 'late');
      const outcomes: EventOutcome[] = [];
      b.sync.onOutcome((o) => outcomes.push(...o));
      await b.sync.resume();
      await b.sync.syncNow();

      // Both items were refused by StrictOrder's rule (the order had shipped); neither reached the server.
      const rejected = await b.sync.rejected();
      expect(rejected.map((r) => (r.event.data as { sku: string }).sku).sort()).toEqual(['late', 'later']);
      expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(2);
      await a.sync.syncNow();
      expect((await logOf(a)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await logOf(b)).toEqual(await logOf(a));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('appends to the aggregate being rebased at every plan fail the round with REBASE_FAILED naming it; a later round goes through', async () => {
    let appending = true;
    let plans = 0;
    // The app's rule is asked at every plan; meanwhile the app adds one more item to that order each time.
    const Busy = defineAggregate({
      ...StrictOrder,
      rebase: (event) => {
        if (event.type === 'ItemAdded' && (event.data as { sku: string }).sku === 'first' && appending) {
          plans++;
          void busy.append('o3', [item(`more-${plans}`)]);
        }
        return 'keep';
      },
    });
    const a = await openClient(harness.url, { log: 'rebase-appending-3', aggregates: [Busy] });
    const busy = await openClient(harness.url, { log: 'rebase-appending-3', aggregates: [Busy] });
    try {
      await a.append('o3', [placed]);
      await a.sync.syncNow();
      await busy.sync.syncNow();
      await busy.sync.pause();
      await a.append('o3', [item('theirs')]);
      await a.sync.syncNow();
      await busy.append('o3', [item('first')]);
      await busy.sync.resume();
      const failed = await busy.sync.syncNow().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).toMatchObject({ code: 'REBASE_FAILED', details: { aggregates: ['o3'], attempts: 20 } });
      // Every plan asked the rule again (a round may rebase more than once).
      expect(plans).toBeGreaterThanOrEqual(20);

      appending = false;
      await busy.sync.syncNow();
      expect((await busy.sync.status()).pending).toBe(0);
      await a.sync.syncNow();
      expect(await logOf(busy)).toEqual(await logOf(a));
    } finally {
      await a.dispose();
      await busy.dispose();
    }
  });
});
