// A projection's pending layer stores the cursor of the last pending event it
// folded. Since pending pages keep their events' slots when they lose some
// (core/cursor.ts: slotOf), a cursor's index is a slot; an older build, still
// open in another tab during a rollout, stored the event's index among those
// its page held then. A layer without the `slots` mark is folded again rather
// than resumed from such an index, which would fold events a second time.
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openChronicleDb, type ProjectionRecord } from '../../worker/db.ts';
import { Revenue } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe.each(modes)("a projection's pending layer from an older build ($mode)", ({ worker }) => {
  it('is folded again, not resumed from an index that counted a rewritten page’s events', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append(
        'o-1',
        Array.from({ length: 10 }, (_, i) => item(`s${i}`)),
      );
      // The sync confirms the first 4: the page is written again with s4..s9 at slots 4..9.
      const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
      await store.importConfirmed(stored.slice(0, 4).map((e, i) => ({ ...e, position: i + 1 })));
      expect((await store.projection(Revenue).get()).state).toMatchObject({ items: 10 });

      // The layer as an older build stores it after folding s4..s9: its cursor's index is 5 (s9 is the
      // page's sixth event now), and it has no `slots` mark.
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const record = (await db.get('projections', 'revenue')) as ProjectionRecord;
        expect(record.pending).toMatchObject({ applied: 6, slots: true, cursor: { index: 9 } });
        const { slots: _mark, ...older } = record.pending!;
        await db.put('projections', { ...record, pending: { ...older, cursor: { ...older.cursor!, index: 5 } } }, 'revenue');
      } finally {
        db.close();
      }

      // One more event: 11 items, each once (read as a slot, index 5 would fold s6..s9 again: 15).
      await store.append('o-1', [item('s10')], { expectedVersion: 10 });
      expect((await store.projection(Revenue).get()).state).toMatchObject({ items: 11 });
    } finally {
      await store.dispose();
    }
  });
});
