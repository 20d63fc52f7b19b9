import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { applyRebase, planRebase } from '../../worker/rebase.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * A rebase is one transaction: when it fails part-way (here, data that cannot
 * be stored, given straight to applyRebase, past the client's own checks),
 * nothing of it stays. Its first steps (the pending index deleted, a dropped
 * event moved to the rejected store) must not be committed without the rest.
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe.each(modes)('applyRebase ($mode)', ({ worker }) => {
  it('that fails part-way stores nothing of it, and the same plan applies afterwards', async () => {
    const store = await openOrderStore(worker);
    try {
      const [drop, transform] = (await store.append('o1', [item('drop-me'), item('transform-me')])).events;
      // Another device's event took seq 1 on the server: both pending events conflict.
      const theirs: StoredEvent = {
        ...drop!,
        id: 'theirs-1',
        data: { sku: 'theirs', qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'another-device', clientSeq: 1 },
        position: 1,
      };
      await store.importConfirmed([theirs]);
      const before = await collect(store.readLog());

      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const plan = await planRebase(db);
        expect(plan.conflicts.map((c) => c.pending.map((e) => e.id))).toEqual([[drop!.id, transform!.id]]);
        const unstorable = new Map([
          [drop!.id, { action: 'drop' as const, reason: 'out of stock' }],
          [transform!.id, { action: 'transform' as const, data: { sku: 'x', qty: 1n, price: 1 } }],
        ]);
        await expect(applyRebase(db, plan, unstorable)).rejects.toThrow();
        expect(await collect(store.readLog())).toEqual(before);
        expect(await store.sync.rejected()).toEqual([]);
        expect(await store.info()).toMatchObject({ pendingEvents: 2 });

        const outcomes = await applyRebase(
          db,
          plan,
          new Map([
            [drop!.id, { action: 'drop' as const, reason: 'out of stock' }],
            [transform!.id, { action: 'transform' as const, data: { sku: 'x', qty: 2, price: 1 } }],
          ]),
        );
        expect(outcomes.map((o) => [o.id, o.status, o.seq])).toEqual([
          [drop!.id, 'rejected', undefined],
          [transform!.id, 'rebased', 2],
        ]);
      } finally {
        db.close();
      }
      expect((await store.sync.rejected()).map((r) => r.id)).toEqual([drop!.id]);
      expect((await collect(store.readStream('o1'))).map((e) => [e.seq, e.data])).toEqual([
        [1, { sku: 'theirs', qty: 1, price: 1 }],
        [2, { sku: 'x', qty: 2, price: 1 }],
      ]);
    } finally {
      await store.dispose();
    }
  });
});
