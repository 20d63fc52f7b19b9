import { describe, expect, it } from 'vitest';
import { collect, modes, openOrderStore } from './modes.ts';

const item = (sku: string, qty = 1, price = 10, occurredAt?: number) => ({
  type: 'ItemAdded' as const,
  data: { sku, qty, price },
  ...(occurredAt === undefined ? {} : { meta: { occurredAt } }),
});

/** `aggregates` streams `agg-0`, `agg-1`, ... of `perAggregate` ItemAdded events each, in one appendBatch. */
async function appendGrid(store: Awaited<ReturnType<typeof openOrderStore>>, aggregates: number, perAggregate: number) {
  const entries = Array.from({ length: aggregates }, (_, a) => ({
    aggregateId: `agg-${a}`,
    events: Array.from({ length: perAggregate }, (_, i) => item(`s${i}`)),
  }));
  await store.appendBatch(entries);
}

describe.each(modes)('reads ($mode)', ({ worker }) => {
  it('reads one stream forwards, backwards and by seq range across many pages', async () => {
    const store = await openOrderStore(worker);
    try {
      // 40 single appends (one page each) interleaved with another stream, then one large append (many pages).
      for (let i = 1; i <= 40; i++) {
        await store.append('o1', [item(`a${i}`)]);
        await store.append('o2', [item(`b${i}`)]);
      }
      const bulk = Array.from({ length: 3000 }, (_, i) => item(`c${i}-${'x'.repeat(40)}`));
      await store.append('o1', bulk);
      const forward = await collect(store.readStream('o1'));
      expect(forward.map((e) => e.seq)).toEqual(Array.from({ length: 3040 }, (_, i) => i + 1));
      expect(forward.every((e) => e.aggregateId === 'o1')).toBe(true);
      const backward = await collect(store.readStream('o1', { backwards: true }));
      expect(backward.map((e) => e.seq)).toEqual(forward.map((e) => e.seq).reverse());
      const range = await collect(store.readStream('o1', { fromSeq: 35, toSeq: 45 }));
      expect(range.map((e) => e.seq)).toEqual([35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45]);
      const tail = await collect(store.readStream('o1', { fromSeq: 3000, toSeq: 3100, backwards: true }));
      expect(tail.map((e) => e.seq)).toEqual(Array.from({ length: 41 }, (_, i) => 3040 - i));
      expect(await collect(store.readStream('nobody'))).toEqual([]);
      expect(await collect(store.readStream('o2', { fromSeq: 41 }))).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('reads the whole log in log order, with filters by aggregate, type, time and position', async () => {
    const store = await openOrderStore(worker);
    try {
      const t = 1_700_000_000_000;
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' }, meta: { occurredAt: t } }]);
      await store.append('o2', [item('a', 1, 1, t + 1000)]);
      await store.append('o1', [
        item('b', 1, 1, t + 2000),
        { type: 'OrderShipped', data: { carrier: 'ups' }, meta: { occurredAt: t + 3000 } },
      ]);
      const all = await collect(store.readLog());
      expect(all.map((e) => `${e.aggregateId}:${e.seq}`)).toEqual(['o1:1', 'o2:1', 'o1:2', 'o1:3']);
      expect((await collect(store.readLog({ aggregateIds: ['o2'] }))).map((e) => e.type)).toEqual(['ItemAdded']);
      expect((await collect(store.readLog({ types: ['ItemAdded'] }))).map((e) => e.aggregateId)).toEqual(['o2', 'o1']);
      const window = await collect(store.readLog({ fromTime: t + 500, toTime: t + 2500 }));
      expect(window.map((e) => e.meta.occurredAt)).toEqual([t + 1000, t + 2000]);
      // Pending events have no position: a position filter returns only confirmed ones.
      expect(await collect(store.readLog({ fromPosition: 1 }))).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('pages through a log larger than one read batch without skipping or repeating', async () => {
    const store = await openOrderStore(worker);
    try {
      await appendGrid(store, 30, 400);
      let count = 0;
      const perAggregate = new Map<string, number>();
      for await (const event of store.readLog()) {
        count++;
        const last = perAggregate.get(event.aggregateId) ?? 0;
        expect(event.seq).toBe(last + 1);
        perAggregate.set(event.aggregateId, event.seq);
      }
      expect(count).toBe(12_000);
      expect(perAggregate.size).toBe(30);
    } finally {
      await store.dispose();
    }
  });

  it('scans in batches of any size (page by page, or spanning several engine reads), each event once, in order', async () => {
    const store = await openOrderStore(worker);
    try {
      await appendGrid(store, 30, 400);
      const all = (await collect(store.readLog())).map((e) => e.id);
      for (const batchEvents of [1, 700, 9000, 50_000]) {
        const batches = await collect(store.scan({}, { batchEvents }));
        const ids = batches.flatMap((batch) => batch.map((entry) => entry.event.id));
        expect(ids).toEqual(all);
        // Batches end at page ends: each is at least batchEvents long, except the last.
        for (const batch of batches.slice(0, -1)) expect(batch.length).toBeGreaterThanOrEqual(batchEvents);
        if (batchEvents === 1) expect(batches.length).toBeGreaterThan(12);
        if (batchEvents === 50_000) expect(batches).toHaveLength(1);
        // Each batch ends where the next one resumes: its last entry is followed by the next batch's first.
        const cursors = batches.flatMap((batch) => batch.map((entry) => entry.cursor));
        for (let i = 1; i < cursors.length; i++) {
          const [a, b] = [cursors[i - 1]!, cursors[i]!];
          expect(a.area < b.area || (a.area === b.area && (a.page < b.page || (a.page === b.page && a.index < b.index)))).toBe(true);
        }
      }
    } finally {
      await store.dispose();
    }
  });

  it('runs scans side by side, each whole and in order, also after many scans stopped early', async () => {
    const store = await openOrderStore(worker);
    try {
      await appendGrid(store, 20, 300);
      const all = (await collect(store.readLog())).map((e) => e.id);
      // More scans stopped after a few events than the engine keeps open at once (worker/scan-sessions.ts).
      for (let i = 0; i < 80; i++) {
        let seen = 0;
        for await (const event of store.readLog()) {
          expect(event.id).toBe(all[seen]);
          if (++seen === 3) break;
        }
      }
      // Two scans interleaved step by step, and a third with a filter, all at once.
      const a = store.readLog()[Symbol.asyncIterator]();
      const b = store.readLog()[Symbol.asyncIterator]();
      const fromA: string[] = [];
      const fromB: string[] = [];
      const filtered = collect(store.readLog({ aggregateIds: ['agg-7'] }));
      for (;;) {
        const [x, y] = await Promise.all([a.next(), b.next()]);
        if (!x.done) fromA.push(x.value.id);
        if (!y.done) fromB.push(y.value.id);
        if (x.done && y.done) break;
      }
      expect(fromA).toEqual(all);
      expect(fromB).toEqual(all);
      expect((await filtered).map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    } finally {
      await store.dispose();
    }
  });

  it('orders confirmed events by position before pending ones, and filters by position', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('local', [item('pending')]);
      const confirmed = Array.from({ length: 5 }, (_, i) => ({
        id: `srv-${i + 1}`,
        aggregateId: 'remote',
        aggregateType: 'Order',
        seq: i + 1,
        type: 'ItemAdded',
        version: 2,
        data: { sku: `r${i}`, qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'other-client', clientSeq: i + 1 },
        position: i + 1,
      }));
      expect(await store.importConfirmed(confirmed)).toEqual({ stored: 5, head: 5 });
      const log = await collect(store.readLog());
      expect(log.map((e) => e.id)).toEqual(['srv-1', 'srv-2', 'srv-3', 'srv-4', 'srv-5', log[5]!.id]);
      expect(log[5]!.position).toBeUndefined();
      expect(log[0]!.position).toBe(1);
      const middle = await collect(store.readLog({ fromPosition: 2, toPosition: 4 }));
      expect(middle.map((e) => e.position)).toEqual([2, 3, 4]);
      // Importing the same page again stores nothing; a gap is refused.
      expect(await store.importConfirmed(confirmed)).toEqual({ stored: 0, head: 5 });
      const gap = { ...confirmed[0]!, id: 'srv-9', seq: 9, position: 9 };
      await expect(store.importConfirmed([gap])).rejects.toMatchObject({ code: 'POSITION_GAP', details: { expected: 6, got: 9 } });
      expect((await store.info()).confirmedEvents).toBe(5);
    } finally {
      await store.dispose();
    }
  });
});

describe.each(modes)('a bulk pull indexed later ($mode)', ({ worker }) => {
  it('reads, loads and appends correctly before and after the deferred indexing', async () => {
    const { Order } = await import('../fixtures/model.ts');
    const { eventually } = await import('./modes.ts');
    const store = await openOrderStore(worker);
    try {
      // 3000 confirmed events of 30 aggregates, interleaved as a server log orders them.
      const events = Array.from({ length: 3000 }, (_, i) => ({
        id: `srv-${i}`,
        aggregateId: `bulk-${i % 30}`,
        aggregateType: 'Order',
        seq: Math.floor(i / 30) + 1,
        type: 'ItemAdded',
        version: 2,
        data: { sku: `s${i}`, qty: 1, price: 2 },
        meta: { occurredAt: i, clientId: 'server-side', clientSeq: i + 1 },
        position: i + 1,
      }));
      await store.importConfirmed(events.slice(0, 1500));
      await store.importConfirmed(JSON.stringify(events.slice(1500)));
      expect((await store.info()).unindexedEvents).toBeGreaterThan(0);
      // Not indexed yet: still found.
      const stream = await collect(store.readStream('bulk-7'));
      expect(stream.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect((await store.load(Order, 'bulk-7')).state.total).toBe(200);
      const appended = await store.append('bulk-7', [item('local')], { expectedVersion: 100 });
      expect(appended.events[0]!.seq).toBe(101);
      await eventually(async () => expect((await store.info()).unindexedEvents).toBe(0), 10_000);
      const after = await collect(store.readStream('bulk-8', { fromSeq: 95 }));
      expect(after.map((e) => e.seq)).toEqual([95, 96, 97, 98, 99, 100]);
      expect((await store.append('bulk-8', [item('x')], { expectedVersion: 100 })).events[0]!.seq).toBe(101);
      expect((await store.load(Order, 'bulk-7')).version).toBe(101);
    } finally {
      await store.dispose();
    }
  });
});
