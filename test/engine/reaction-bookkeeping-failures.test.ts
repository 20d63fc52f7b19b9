import { afterEach, describe, expect, it } from 'vitest';
import { defineReaction, type ReactionContext } from '../../src/core/reaction.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';

/**
 * A reaction whose bookkeeping cannot be written after its handler ran (a
 * full disk: puts into one object store fail with QuotaExceededError, as
 * IndexedDB's do). The handler's outcome is written again until it is stored;
 * the handler itself is not called again for it: a charge that went through is
 * not made twice, and a failing handler is not tried past maxAttempts.
 * In-process engine, so the puts can be made to fail in Node and in Chromium.
 * (test/browser holds the same with Chromium's real quota, in the audit that
 * found it: not kept, it needs the machine's disk quota to itself.)
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const originalPut = IDBObjectStore.prototype.put;
/** The object store whose puts fail while it is set. */
let fullFor: string | null = null;

function failPutsWhileFull(): void {
  IDBObjectStore.prototype.put = function (...args: Parameters<IDBObjectStore['put']>) {
    if (fullFor === this.name) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return originalPut.apply(this, args);
  };
}

afterEach(() => {
  fullFor = null;
  IDBObjectStore.prototype.put = originalPut;
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reaction bookkeeping that cannot be written (in-process)', () => {
  it('a charge whose done record cannot be stored is not made again; the record is stored once there is room', async () => {
    failPutsWhileFull();
    const charges: { redelivery: boolean }[] = [];
    const Charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      backoff: { initialMs: 20, maxMs: 50 },
      handlers: {
        ItemAdded: (_event, ctx: ReactionContext) => {
          charges.push({ redelivery: ctx.redelivery });
          if (charges.length === 1) fullFor = 'processed'; // charged; now nothing more fits
        },
      },
    });
    const store = await openTestStore({ ...model, worker: false, reactions: [Charge] });
    try {
      await store.append('order-1', [item('a')]);
      await wait(800);
      expect((await store.reactions.status())[0]!.caughtUp).toBe(false);
      fullFor = null;
      await expect.poll(async () => (await store.reactions.status())[0]!.caughtUp).toBe(true);
      expect(charges).toEqual([{ redelivery: false }]);
    } finally {
      fullFor = null;
      await store.dispose();
    }
  });

  it('a failing handler whose failure count cannot be stored is tried maxAttempts times, then parked', async () => {
    failPutsWhileFull();
    let calls = 0;
    const Flaky = defineReaction({
      name: 'flaky',
      events: [ItemAdded],
      maxAttempts: 3,
      backoff: { initialMs: 20, maxMs: 50 },
      handlers: {
        ItemAdded: () => {
          calls++;
          if (calls === 1) fullFor = 'reactions'; // the failure note goes into the reaction's record
          throw new Error('card declined');
        },
      },
    });
    const store = await openTestStore({ ...model, worker: false, reactions: [Flaky] });
    try {
      await store.append('order-1', [item('a')]);
      await wait(800);
      expect(calls).toBe(1);
      fullFor = null;
      await expect.poll(async () => (await store.reactions.parked('flaky')).length).toBe(1);
      expect(calls).toBe(3);
      expect((await store.reactions.parked('flaky'))[0]).toMatchObject({ attempts: 3, lastError: 'Error: card declined' });
    } finally {
      fullFor = null;
      await store.dispose();
    }
  });
});
