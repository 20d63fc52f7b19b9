// A rebuild asked for progress reads the log in small batches (so progress
// comes once per 1,000 events) but commits the projection about every
// 12,000: each commit checks and copies the whole state, and a large state
// copied every 1,000 events would make the rebuild many times slower.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Revenue } from '../fixtures/model.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

/** Writes of projection records through IDBObjectStore.prototype.put in this thread. */
let projectionWrites = 0;
let restore: () => void;
beforeEach(() => {
  const proto = (globalThis as unknown as { IDBObjectStore: { prototype: IDBObjectStore } }).IDBObjectStore.prototype;
  const original = proto.put;
  proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    if (this.name === 'projections') projectionWrites++;
    return original.call(this, value, key);
  };
  restore = () => {
    proto.put = original;
  };
});
afterEach(() => restore());

const confirmed = (position: number): StoredEvent => ({
  id: `e${position}`,
  aggregateId: `o${position % 26}`,
  aggregateType: 'Order',
  seq: Math.floor(position / 26) + 1,
  type: 'ItemAdded',
  version: 2,
  data: { sku: `s${position}`, qty: 1, price: 10 },
  meta: { occurredAt: 1, clientId: 'another-device', clientSeq: position },
  position,
});

describe('a rebuild with progress', () => {
  const count = 26_000;
  it.each([
    { events: 'pending (appended here)', confirmed: false },
    { events: 'confirmed (pulled)', confirmed: true },
  ])('of $events events reports once per 1,000 events but commits about every 12,000', async ({ confirmed: pulled }) => {
    const store = await openTestStore({ ...model, worker: false });
    try {
      for (let first = 0; first < count; first += 1000) {
        if (pulled) await store.importConfirmed(Array.from({ length: 1000 }, (_, i) => confirmed(first + i + 1)));
        else
          await store.append(
            `o${first / 1000}`,
            Array.from({ length: 1000 }, (_, i) => item(`s${first + i}`)),
          );
      }
      const revenue = store.projection(Revenue);
      expect((await revenue.get()).state).toMatchObject({ items: count });
      projectionWrites = 0;
      const progress: number[] = [];
      const rebuilt = await revenue.rebuild({ onProgress: (p) => progress.push(p.scanned) });
      expect(rebuilt.state).toMatchObject({ items: count, replayed: count });
      expect(progress.length).toBeGreaterThanOrEqual(count / 1000);
      expect(progress.at(-1)).toBe(count);
      // The reset, the empty record, one commit per ~12,000 events folded and the last: not one per 1,000.
      expect(projectionWrites).toBeLessThanOrEqual(6);
    } finally {
      await store.dispose();
    }
  });
});
