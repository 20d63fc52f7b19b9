// A subscription to an aggregate or a projection hears why it ends when the store closes or stops on its
// own (README, React: "Failures land in the view's `error`, with the last state delivered: [...] a closed
// store"): its onError gets the StoreClosedError once, and nothing after. Before, a view mounted before
// close() kept its last state with no error for good, and one of an aggregate kept showing a deleted store's
// data: no change ever comes from a closed store to make them look again.
import { describe, expect, it } from 'vitest';
import { deleteStore } from '../../src/client/index.ts';
import { StoreClosedError } from '../../src/core/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Order, Revenue } from '../fixtures/model.ts';
import { eventually, modes } from './modes.ts';

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });

describe.each(modes)('subscriptions when the store closes ($mode)', ({ worker }) => {
  it('close(): each live subscription gets StoreClosedError once; one ended before gets nothing', async () => {
    const store = await openTestStore({ ...model, worker, projections: [Revenue] });
    await store.append('o1', [placed('c1')]);
    const heard: string[] = [];
    const errors: unknown[] = [];
    const stopAggregate = store.subscribe(
      Order,
      'o1',
      (r) => heard.push(`order v${r.version}`),
      (e) => errors.push(['order', e]),
    );
    const stopProjection = store.projection(Revenue).subscribe(
      () => heard.push('revenue'),
      (e) => errors.push(['revenue', e]),
    );
    const ended: unknown[] = [];
    store.subscribe(
      Order,
      'o1',
      () => undefined,
      (e) => ended.push(e),
    )();
    await eventually(() => expect(heard).toEqual(expect.arrayContaining(['order v1', 'revenue'])));
    await store.dispose();
    await eventually(() => expect(errors).toHaveLength(2));
    for (const [, error] of errors as [string, unknown][]) {
      expect(error).toBeInstanceOf(StoreClosedError);
      expect(error).toMatchObject({ reason: 'closed' });
    }
    expect((errors as [string][]).map(([what]) => what).sort()).toEqual(['order', 'revenue']);
    expect(ended).toEqual([]);
    // Unsubscribing after the close changes nothing, and nothing more arrives.
    stopAggregate();
    stopProjection();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toHaveLength(2);
  });

  it('deleteStore: the subscriptions of every store of that name hear it, with the reason', async () => {
    const first = await openTestStore({ ...model, worker, projections: [Revenue] });
    const second = await openTestStore({ ...model, worker, name: first.name, projections: [Revenue] });
    try {
      await first.append('o1', [placed('c1')]);
      const errors: unknown[] = [];
      const shown: number[] = [];
      second.subscribe(
        Order,
        'o1',
        (r) => shown.push(r.version),
        (e) => errors.push(e),
      );
      second.projection(Revenue).subscribe(
        () => undefined,
        (e) => errors.push(e),
      );
      // Version 1 may come twice: first's append can reach this store's hub after the subscription's first load.
      await eventually(() => expect(shown.at(-1)).toBe(1));
      await first.close();
      await deleteStore(first.name, { discardUnfinished: true });
      await eventually(() => expect(errors).toHaveLength(2));
      for (const error of errors) expect(error).toMatchObject({ code: 'STORE_CLOSED', reason: 'deleted' });
    } finally {
      await second.close();
    }
  });
});
