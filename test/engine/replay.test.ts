import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/core/errors.ts';
import type { ReplayProgress } from '../../src/client/types.ts';
import { modes, openOrderStore } from './modes.ts';

const t0 = 1_700_000_000_000;
const item = (sku: string, at: number) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 }, meta: { occurredAt: at } });

async function seeded(worker: Parameters<typeof openOrderStore>[0]) {
  const store = await openOrderStore(worker);
  // 3 aggregates x 2000 events, plus a few of other types; occurredAt = t0 + global index.
  const entries = [0, 1, 2].map((a) => ({
    aggregateId: `o${a}`,
    events: Array.from({ length: 2000 }, (_, i) => item(`s${i}`, t0 + a * 2000 + i)),
  }));
  await store.appendBatch(entries);
  await store.append('o0', [{ type: 'OrderShipped', data: { carrier: 'dhl' }, meta: { occurredAt: t0 + 9000 } }]);
  return store;
}

describe.each(modes)('replay jobs ($mode)', ({ worker }) => {
  it('replays the full log in order with isReplay and progress', async () => {
    const store = await seeded(worker);
    try {
      const seen: string[] = [];
      const progress: ReplayProgress[] = [];
      const result = await store.replay({
        handler(event, ctx) {
          expect(ctx.isReplay).toBe(true);
          seen.push(`${event.aggregateId}:${event.seq}`);
        },
        onProgress: (p) => progress.push(p),
      });
      expect(result).toMatchObject({ processed: 6001, scanned: 6001, total: 6001, resumed: false });
      expect(seen[0]).toBe('o0:1');
      expect(seen[2000]).toBe('o1:1');
      expect(seen[6000]).toBe('o0:2001');
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.at(-1)).toEqual({ processed: 6001, scanned: 6001, total: 6001 });
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.processed).toBeGreaterThanOrEqual(progress[i - 1]!.processed);
    } finally {
      await store.dispose();
    }
  });

  it('replays one aggregate, a time range, and a set of event types', async () => {
    const store = await seeded(worker);
    try {
      const one: number[] = [];
      const r1 = await store.replay({ filter: { aggregateId: 'o1' }, handler: (e) => void one.push(e.seq) });
      expect(one).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
      expect(r1.total).toBe(2000);

      const times: number[] = [];
      await store.replay({ filter: { fromTime: t0 + 1990, toTime: t0 + 2009 }, handler: (e) => void times.push(e.meta.occurredAt) });
      expect(times).toEqual(Array.from({ length: 20 }, (_, i) => t0 + 1990 + i));

      const types: string[] = [];
      await store.replay({ filter: { types: ['OrderShipped'] }, handler: (e) => void types.push(`${e.aggregateId}:${e.type}`) });
      expect(types).toEqual(['o0:OrderShipped']);
    } finally {
      await store.dispose();
    }
  });

  it('a named job stopped by its AbortSignal resumes after the last event it handled', async () => {
    const store = await seeded(worker);
    try {
      const handled: string[] = [];
      const controller = new AbortController();
      const first = await store
        .replay({
          name: 'rebuild-search',
          signal: controller.signal,
          handler(event) {
            handled.push(event.id);
            if (handled.length === 2500) controller.abort();
          },
        })
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(AbortedError);
      expect(handled).toHaveLength(2500);
      const second = await store.replay({ name: 'rebuild-search', handler: (event) => void handled.push(event.id) });
      expect(second.resumed).toBe(true);
      expect(second.processed).toBe(6001);
      // Every event exactly once across both runs, in log order.
      expect(new Set(handled).size).toBe(6001);
      expect(handled).toHaveLength(6001);
      // A finished job starts over when run again.
      let again = 0;
      const third = await store.replay({ name: 'rebuild-search', handler: () => void again++ });
      expect(third.resumed).toBe(false);
      expect(again).toBe(6001);
    } finally {
      await store.dispose();
    }
  });

  it('a job resumes in a new store instance (as after a reload) and a failing handler keeps its checkpoint', async () => {
    const store = await seeded(worker);
    const { openTestStore } = await import('../../src/testing/index.ts');
    const { model } = await import('../fixtures/model.ts');
    try {
      let count = 0;
      const error = await store
        .replay({
          name: 'one-aggregate',
          filter: { aggregateId: 'o2' },
          handler() {
            if (++count === 1500) throw new Error('webhook down');
          },
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/webhook down/);
      const reopened = await openTestStore({ ...model, worker, name: store.name });
      try {
        const seqs: number[] = [];
        const result = await reopened.replay({
          name: 'one-aggregate',
          filter: { aggregateId: 'o2' },
          handler: (e) => void seqs.push(e.seq),
        });
        expect(result.resumed).toBe(true);
        expect(seqs[0]).toBe(1500);
        expect(seqs.at(-1)).toBe(2000);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.dispose();
    }
  });

  it.each([
    { how: 'over the log', filter: { types: ['ItemAdded'] } },
    { how: 'over one aggregate', filter: { aggregateId: 'o1' } },
  ])(
    'a handler may return anything at run time ($how): a promise or other thenable is awaited before the next event, values are ignored',
    async ({ filter }) => {
      const store = await openOrderStore(worker);
      try {
        await store.append(
          'o1',
          ['a', 'b', 'c', 'd', 'e'].map((sku, i) => item(sku, t0 + i)),
        );
        const order: string[] = [];
        let n = 0;
        const later = <T>(value: () => T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value()), 5));
        const result = await store.replay({
          filter,
          // Values and then-less objects are refused by the type (HandlerResult) but a JavaScript app may return them.
          // @ts-expect-error a plain value, an odd thenable
          handler: (event) => {
            const sku = event.known && event.type === 'ItemAdded' ? event.data.sku : '?';
            order.push(`start ${sku}`);
            const finish = () => {
              order.push(`end ${sku}`);
              return { receipt: sku };
            };
            switch (n++) {
              case 0:
                return finish().receipt.length; // a value
              case 1:
                return later(finish); // a promise of a value, as `psp.charge(...)` returns
              case 2:
                // A thenable that is not a Promise, whose then() returns nothing.
                return { then: (onFulfilled: (value: unknown) => void) => void later(() => onFulfilled(finish())) };
              case 3:
                return { then: 'not a function', receipt: finish() }; // an object with a `then` that is no method
              default:
                finish();
                return undefined;
            }
          },
        });
        expect(result.processed).toBe(5);
        expect(order).toEqual(['a', 'b', 'c', 'd', 'e'].flatMap((sku) => [`start ${sku}`, `end ${sku}`]));
      } finally {
        await store.dispose();
      }
    },
  );
});
