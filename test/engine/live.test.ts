import { describe, expect, it } from 'vitest';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Order } from '../fixtures/model.ts';
import { eventually, modes, openOrderStore } from './modes.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

describe.each(modes)('live updates ($mode)', ({ worker }) => {
  it('delivers an aggregate state now and after each append, including appends from another tab', async () => {
    const store = await openOrderStore(worker);
    const otherTab = await openTestStore({ ...model, worker, name: store.name });
    try {
      await store.append('o1', [item('a', 1, 10)]);
      const totals: number[] = [];
      const stop = store.subscribe(Order, 'o1', (r) => totals.push(r.state.total));
      await eventually(() => expect(totals).toEqual([10]));
      await store.append('o1', [item('b', 1, 5)]);
      await eventually(() => expect(totals.at(-1)).toBe(15));
      await otherTab.append('o1', [item('c', 1, 1)]);
      await eventually(() => expect(totals.at(-1)).toBe(16));
      await store.append('o2', [item('elsewhere')]);
      stop();
      await store.append('o1', [item('after-stop', 1, 1000)]);
      await new Promise((r) => setTimeout(r, 50));
      expect(totals.at(-1)).toBe(16);
    } finally {
      await otherTab.close();
      await store.dispose();
    }
  });

  it('tails the log: new events only, from this tab and others', async () => {
    const store = await openOrderStore(worker);
    const otherTab = await openTestStore({ ...model, worker, name: store.name });
    try {
      await store.append('o1', [item('before')]);
      const seen: string[] = [];
      const stop = store.subscribeLog((events) => seen.push(...events.map((e) => (e.known && e.type === 'ItemAdded' ? e.data.sku : '?'))));
      await new Promise((r) => setTimeout(r, 30));
      await store.append('o1', [item('x')]);
      await otherTab.append('o2', [item('y'), item('z')]);
      await eventually(() => expect(seen).toEqual(['x', 'y', 'z']));
      stop();
    } finally {
      await otherTab.close();
      await store.dispose();
    }
  });
});
