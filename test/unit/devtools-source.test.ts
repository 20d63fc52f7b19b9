// The devtools' store source pages through the log in slices small enough
// for the app's main thread, continuing one scan from page to page.
import { describe, expect, it } from 'vitest';
import { createStoreSource, type DevtoolsEntry } from '../../src/devtools/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';

const item = (i: number) => ({ type: 'ItemAdded' as const, data: { sku: `sku-${i}`, qty: 1, price: i } });

describe('devtools store source paging', () => {
  it('hands the log over in bounded pages, each starting right after the last, and sees what was appended since', async () => {
    const store = await openTestStore({ ...model, worker: false });
    const source = createStoreSource(store, {});
    try {
      for (let n = 0; n < 9; n++) {
        await store.appendBatch([
          { aggregateId: `order-${n}`, events: Array.from({ length: 500 }, (_, i) => item(i)), options: { aggregateType: 'Order' } },
        ]);
      }
      const sizes: number[] = [];
      const all: DevtoolsEntry[] = [];
      let after: DevtoolsEntry['cursor'] | null = null;
      for (;;) {
        const page = await source.page({ status: 'pending', after });
        if (page.entries.length === 0) break;
        sizes.push(page.entries.length);
        all.push(...page.entries);
        after = page.entries[page.entries.length - 1]!.cursor;
      }
      expect(sizes.every((size) => size <= 2000)).toBe(true);
      expect(all.length).toBe(4500);
      expect(new Set(all.map((e) => e.event.id)).size).toBe(4500);
      expect(all.map((e) => e.event.meta.clientSeq)).toEqual(Array.from({ length: 4500 }, (_, i) => i + 1));

      await store.append('order-late', [item(1), item(2)], { aggregateType: 'Order' });
      const late = await source.page({ status: 'pending', after });
      expect(late.entries.map((e) => e.event.aggregateId)).toEqual(['order-late', 'order-late']);
    } finally {
      await source.dispose();
      await store.dispose();
    }
  });
});
