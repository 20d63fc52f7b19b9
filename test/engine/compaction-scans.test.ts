import { describe, expect, it } from 'vitest';
import { HistoryCompactedError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { Revenue } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * Compaction against readers already under way (README, "Compaction /
 * retention"): a scan that began never skips what compaction drops ahead of
 * it, a time range with only an end is checked like one with a start, and a
 * projection rebuild that compacted history makes impossible leaves the
 * projection working (its checkpoint kept, so it keeps holding compaction).
 */

/** `pages` pages of `perPage` confirmed ItemAdded events over `orders` orders, positions from 1, occurredAt 1000 + position. */
function confirmedPages(pages: number, perPage: number, orders: number): StoredEvent[][] {
  const seqs = new Map<string, number>();
  const out: StoredEvent[][] = [];
  let position = 1;
  for (let p = 0; p < pages; p++) {
    const page: StoredEvent[] = [];
    for (let i = 0; i < perPage; i++, position++) {
      const aggregateId = `o${position % orders}`;
      const seq = (seqs.get(aggregateId) ?? 0) + 1;
      seqs.set(aggregateId, seq);
      page.push({
        id: `s-${position}`,
        aggregateId,
        aggregateType: 'Order',
        seq,
        type: 'ItemAdded',
        version: 2,
        data: { sku: `k${position % 5}`, qty: 1, price: position % 7 },
        meta: { occurredAt: 1000 + position, clientId: 'server-side', clientSeq: position },
        position,
      });
    }
    out.push(page);
  }
  return out;
}

describe.each(modes)('compaction under readers ($mode)', ({ worker }) => {
  it('given a scan under way, when compaction drops the events ahead of it, then the scan fails typed instead of skipping them', async () => {
    const store = await openOrderStore(worker);
    try {
      // 12,000 events: a scan reads them in several engine reads (in-process: 4,000 each, the next asked for
      // ahead; in a worker, the engine reads 2,000 at a time ahead of the page's calls).
      for (const page of confirmedPages(12, 1000, 10)) await store.importConfirmed(page);
      const seen: number[] = [];
      const scan = (async () => {
        let compacted = false;
        for await (const batch of store.scan({}, { batchEvents: 1 })) {
          for (const entry of batch) seen.push(entry.event.position!);
          if (!compacted) {
            compacted = true;
            // Between two of the scan's reads, everything but the last page goes.
            const report = await store.compact({ retention: { maxEvents: 1000 }, measure: false });
            expect(report.historyStartsAt).toBe(11001);
          }
        }
      })();
      const failure = await scan.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'HISTORY_COMPACTED', details: { what: 'log', historyStartsAt: 11001 } });
      // What it did hand over is gapless from the start, and it fails right where that ends: nothing after a hole.
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.length).toBeLessThan(11000);
      expect(seen.every((position, i) => position === i + 1)).toBe(true);
      expect((failure as HistoryCompactedError).details.requestedFrom).toBe(seen.length + 1);
    } finally {
      await store.dispose();
    }
  });

  it('given compacted history, when a time range has only an end inside the dropped times, then the read fails typed', async () => {
    const store = await openOrderStore(worker);
    try {
      for (const page of confirmedPages(4, 50, 3)) await store.importConfirmed(page);
      await store.compact({ retention: { maxEvents: 100 }, measure: false });
      expect((await store.info()).historyStartsAt).toBe(101);
      await expect(collect(store.readLog({ toTime: 1050 }))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'log', requestedToTime: 1050, droppedUntilTime: 1100 },
      });
      await expect(collect(store.readLog({ toTime: 1150 }))).rejects.toBeInstanceOf(HistoryCompactedError);
    } finally {
      await store.dispose();
    }
  });

  it('given a caught-up projection and compacted history, when it is rebuilt, then the rebuild fails typed and the projection keeps working and holding compaction', async () => {
    const store = await openOrderStore(worker);
    try {
      for (const page of confirmedPages(4, 50, 3)) await store.importConfirmed(page);
      const caughtUp = await store.projection(Revenue).get();
      expect(caughtUp.applied).toBe(200);
      await store.compact({ retention: { maxEvents: 100 }, measure: false });
      await expect(store.projection(Revenue).rebuild()).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'state', projection: 'revenue', historyStartsAt: 101 },
      });
      // Its checkpoint stayed: new events fold on top, and compaction still stops at it.
      for (const page of confirmedPages(5, 50, 3).slice(4)) await store.importConfirmed(page);
      const held = await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(held.blockedBy).toEqual([expect.objectContaining({ kind: 'projection', name: 'revenue', position: 200 })]);
      const after = await store.projection(Revenue).get();
      expect(after.applied).toBe(250);
    } finally {
      await store.dispose();
    }
  });

  it('given compacted history, when a new projection first catches up, then it fails typed and does not hold compaction back', async () => {
    const store = await openOrderStore(worker);
    try {
      for (const page of confirmedPages(4, 50, 3)) await store.importConfirmed(page);
      await store.compact({ retention: { maxEvents: 100 }, measure: false });
      await expect(store.projection(Revenue).get()).rejects.toBeInstanceOf(HistoryCompactedError);
      const next = await store.compact({ retention: { maxEvents: 50 }, measure: false });
      expect(next.blockedBy).toEqual([]);
      expect(next.historyStartsAt).toBe(151);
    } finally {
      await store.dispose();
    }
  });

  it('given a page holding an event type this app does not know (a newer app wrote it), when compacting, then pages go only up to it', async () => {
    const store = await openOrderStore(worker);
    try {
      const pages = confirmedPages(6, 20, 2);
      // Position 70 (page 4 of 6) is a refund only a newer version of the app can fold into an Order.
      pages[3]![9] = { ...pages[3]![9]!, type: 'OrderRefunded', version: 1, data: { amount: 5 } };
      for (const page of pages) await store.importConfirmed(page);
      const report = await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(report).toMatchObject({ pagesDropped: 3, historyStartsAt: 61 });
      expect(report.blockedBy).toEqual([
        expect.objectContaining({ kind: 'aggregate', position: 61, name: expect.stringContaining('OrderRefunded') }),
      ]);
      // The refund is still stored, so an app that learns the type folds it.
      const kept = await collect(store.readLog());
      expect(kept.find((event) => event.position === 70)?.type).toBe('OrderRefunded');
    } finally {
      await store.dispose();
    }
  });

  it('given a page holding an event of a known type at a version newer than this app defines, when compacting, then pages go only up to it', async () => {
    const store = await openOrderStore(worker);
    try {
      const pages = confirmedPages(6, 20, 2);
      // Position 70 is an ItemAdded of version 3 (this app knows versions 1 and 2): a newer app's shape, which
      // this app's reducer would misread into a base that no later app could correct.
      pages[3]![9] = { ...pages[3]![9]!, version: 3, data: { sku: 'x', units: 2, unitPrice: { cents: 500 } } };
      for (const page of pages) await store.importConfirmed(page);
      const report = await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(report).toMatchObject({ pagesDropped: 3, historyStartsAt: 61 });
      expect(report.blockedBy).toEqual([
        expect.objectContaining({ kind: 'aggregate', position: 61, name: expect.stringContaining('ItemAdded v3 unreadable') }),
      ]);
      const kept = await collect(store.readLog());
      expect(kept.find((event) => event.position === 70)).toMatchObject({ known: false, storedVersion: 3, data: { units: 2 } });
    } finally {
      await store.dispose();
    }
  });
});
