import { describe, expect, it } from 'vitest';
import { TimeTravelError } from '../../src/core/errors.ts';
import type { LogEntry } from '../../src/client/types.ts';
import { foldEvents, openTestStore } from '../../src/testing/index.ts';
import { model, Order, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes, openOrderStore } from './modes.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

async function entries(store: { scan(): AsyncIterable<LogEntry[]> }): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const batch of store.scan()) out.push(...batch);
  return out;
}

describe.each(modes)('time travel, what-if, export and import ($mode)', ({ worker }) => {
  it('travels back: live queries show the past read-only, then resume at the head', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('a', 1, 5)]);
      await store.append('o1', [item('b', 1, 7)]);
      await store.append('o2', [item('c', 1, 100)]);
      const log = await entries(store);
      expect(log.map((e) => e.event.seq)).toEqual([1, 2, 3, 1]);
      // Small batches, a page at most (a UI thread's choice) see the same entries.
      const small: LogEntry[][] = [];
      for await (const batch of store.scan({}, { batchEvents: 1 })) small.push(batch);
      expect(small.length).toBeGreaterThan(1);
      expect(small.flat().map((e) => e.event.id)).toEqual(log.map((e) => e.event.id));

      const totals: number[] = [];
      const stop = store.subscribe(Order, 'o1', (r) => totals.push(r.state.total));
      const revenue: number[] = [];
      const stopRevenue = store.projection(Revenue).subscribe((s) => revenue.push(s.state.revenue));
      await eventually(() => expect(totals.at(-1)).toBe(12));
      await eventually(() => expect(revenue.at(-1)).toBe(112));

      store.timeTravel.to(log[1]!.cursor); // after "a" was added
      expect(store.timeTravel.position()).toEqual(log[1]!.cursor);
      await eventually(() => expect(totals.at(-1)).toBe(5));
      await eventually(() => expect(revenue.at(-1)).toBe(5));
      expect((await store.load(Order, 'o1')).version).toBe(2);
      await expect(store.append('o1', [item('nope')])).rejects.toBeInstanceOf(TimeTravelError);

      store.timeTravel.resume();
      await eventually(() => expect(totals.at(-1)).toBe(12));
      await eventually(() => expect(revenue.at(-1)).toBe(112));
      await store.append('o1', [item('d', 1, 1)]);
      await eventually(() => expect(totals.at(-1)).toBe(13));
      stop();
      stopRevenue();
    } finally {
      await store.dispose();
    }
  });

  it('inspects state before and after an event, and what-if without chosen events', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('a', 2, 5), item('b', 1, 7)]);
      const log = await entries(store);
      const before = await store.inspect(Order, 'o1', { until: log[0]!.cursor });
      const after = await store.inspect(Order, 'o1', { until: log[1]!.cursor });
      expect(before.state.total).toBe(0);
      expect(after.state.total).toBe(10);
      const whatIf = await store.inspect(Order, 'o1', { skip: [log[1]!.event.id] });
      expect(whatIf.state.total).toBe(7);
      expect(await store.inspectProjection(Revenue, { skip: [log[2]!.event.id] })).toMatchObject({ revenue: 10 });
      // Nothing was written or skipped for real.
      expect((await store.load(Order, 'o1')).state.total).toBe(17);
    } finally {
      await store.dispose();
    }
  });

  it('travel to every place in the log gives the state of the events up to it, over confirmed and pending pages and a snapshot', async () => {
    const store = await openOrderStore(worker);
    try {
      // Confirmed: o1 and o2 interleaved (another client's, as a pull stores them); then this client's pending
      // appends, one page each, so that a fold reads its stream over several engine calls.
      await store.importConfirmed(
        Array.from({ length: 12 }, (_, i) => ({
          id: `srv-${i + 1}`,
          aggregateId: i % 2 ? 'o2' : 'o1',
          aggregateType: 'Order',
          seq: (i >> 1) + 1,
          type: 'ItemAdded',
          version: 2,
          data: { sku: `s${i}`, qty: 1, price: i + 1 },
          meta: { occurredAt: 1_000 + i, clientId: 'someone', clientSeq: i + 1 },
          position: i + 1,
        })),
      );
      await store.snapshot(Order, 'o1');
      for (let i = 0; i < 8; i++) {
        await store.append('o1', [item(`p${i}`, 1, i + 1)]);
        await store.append('o2', [item(`q${i}`)]);
      }
      const log = await entries(store);
      expect(log).toHaveLength(28);
      for (let i = 0; i < log.length; i++) {
        const upTo = log.slice(0, i + 1).filter((entry) => entry.event.aggregateId === 'o1');
        const inspected = await store.inspect(Order, 'o1', { until: log[i]!.cursor });
        const expected = foldEvents(
          Order,
          upTo.map(({ event }) => ({ type: event.type, data: event.data }) as Parameters<typeof foldEvents<typeof Order>>[1][number]),
          'o1',
        );
        expect(inspected.state, `until entry ${i}`).toEqual(expected);
        expect(inspected.version, `until entry ${i}`).toBe(upTo.at(-1)?.event.seq ?? 0);
      }
    } finally {
      await store.dispose();
    }
  });

  it('exports NDJSON that imports into a scratch store as the same log', async () => {
    const source = await openOrderStore(worker);
    const scratch = await openTestStore({ ...model, worker });
    try {
      await source.importConfirmed([
        {
          id: 'srv-1',
          aggregateId: 'o0',
          aggregateType: 'Order',
          seq: 1,
          type: 'ItemAdded',
          version: 1,
          data: { sku: 'old', quantity: 2, price: 1 },
          meta: { occurredAt: 1, clientId: 'someone', clientSeq: 1 },
          position: 1,
        },
      ]);
      await source.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('a')]);
      await source.append('o0', [item('new')]);
      const lines = await collect(source.exportLog());
      expect(lines).toHaveLength(4);
      expect(JSON.parse(lines[0]!)).toMatchObject({ id: 'srv-1', version: 1, data: { quantity: 2 }, position: 1 });
      const result = await scratch.importLog(lines.join('\n'));
      expect(result).toEqual({ confirmed: 1, pending: 3 });
      expect(await collect(scratch.exportLog())).toEqual(lines);
      expect((await scratch.load(Order, 'o0')).state.total).toBe(12);
      // Importing again changes nothing; a filtered export holds only what matches.
      expect(await scratch.importLog(lines)).toEqual({ confirmed: 0, pending: 0 });
      expect(await collect(source.exportLog({ aggregateIds: ['o1'] }))).toHaveLength(2);
      await expect(scratch.importLog('{"not json')).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(/^Invalid imported event: line 1: not JSON/),
      });
      // A file that skips confirmed positions (a filtered export) says it is not the whole log.
      const fresh = await openTestStore({ ...model, worker });
      try {
        const skipping = JSON.stringify({ ...JSON.parse(lines[0]!), id: 'srv-3', position: 3 });
        await expect(fresh.importLog(skipping)).rejects.toMatchObject({
          code: 'POSITION_GAP',
          message: expect.stringMatching(/skip from position 0 to 3: it is not the whole log/),
        });
      } finally {
        await fresh.dispose();
      }
    } finally {
      await scratch.dispose();
      await source.dispose();
    }
  });
});
