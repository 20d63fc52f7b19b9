// chronicle/react under React's lifecycle as apps drive it: StrictMode's double effects, a commit that hands an
// aggregate from one view to another, and a store that goes away under mounted views.
import { createElement as h, StrictMode, type ReactNode } from 'react';
import { flushSync } from 'react-dom';
import { createRoot, hydrateRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteStore } from '../../src/client/index.ts';
import { useAggregate, useProjection, type HookStore } from '../../src/react/index.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { OrderV1, OrderV2 } from '../fixtures/broken-upcast.ts';
import { model, Order, Revenue } from '../fixtures/model.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

/** The store as the hooks see it, counting the subscriptions they start to aggregates and projections. */
function counting(store: HookStore): { store: HookStore; aggregates: () => number; projections: () => number } {
  let aggregates = 0;
  let projections = 0;
  return {
    store: {
      subscribe: (aggregate, aggregateId, listener, onError) => {
        aggregates++;
        return store.subscribe(aggregate, aggregateId, listener, onError);
      },
      projection: (definition) => {
        const handle = store.projection(definition);
        return {
          ...handle,
          subscribe: (listener, onError) => {
            projections++;
            return handle.subscribe(listener, onError);
          },
        };
      },
      sync: store.sync,
      timeTravel: store.timeTravel,
    },
    aggregates: () => aggregates,
    projections: () => projections,
  };
}

const roots: { root: Root; element: HTMLElement }[] = [];

function mount(): { root: Root; text: (testId: string) => string | undefined } {
  const element = document.createElement('div');
  document.body.append(element);
  const root = createRoot(element);
  roots.push({ root, element });
  return { root, text: (testId) => element.querySelector(`[data-testid="${testId}"]`)?.textContent ?? undefined };
}

afterEach(() => {
  for (const { root, element } of roots.splice(0)) {
    root.unmount();
    element.remove();
  }
});

const failure = (error: unknown): string => (error === null ? 'none' : ((error as { name?: string }).name ?? 'Error'));

function Total({ store, id, testId }: { store: HookStore; id: string; testId: string }): ReactNode {
  const { state, version, loading, error } = useAggregate(store, Order, id);
  const revenue = useProjection(store, Revenue);
  return h(
    'span',
    { 'data-testid': testId },
    loading ? 'loading' : `${state.total}|${version}|${revenue.state.revenue}|${failure(error)}|${failure(revenue.error)}`,
  );
}

describe('chronicle/react through React’s lifecycle (react-dom in Chromium)', () => {
  it('StrictMode’s second effect run reuses the running subscription: one load, not two', async () => {
    const store = await openTestStore({ ...model, projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 2, 5)]);
      const counted = counting(store);
      const { root, text } = mount();
      root.render(h(StrictMode, null, h(Total, { store: counted.store, id: 'o1', testId: 'total' })));
      await expect.poll(() => text('total')).toBe('10|1|10|none|none');
      expect({ aggregates: counted.aggregates(), projections: counted.projections() }).toEqual({ aggregates: 1, projections: 1 });
    } finally {
      await store.dispose();
    }
  });

  it('a commit that unmounts one view of an aggregate and mounts another keeps its subscription and its state', async () => {
    const store = await openTestStore({ ...model, projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 1, 7)]);
      const counted = counting(store);
      const { root, text } = mount();
      const page = (name: 'list' | 'detail') => h(Total, { key: name, store: counted.store, id: 'o1', testId: name });
      root.render(page('list'));
      await expect.poll(() => text('list')).toBe('7|1|7|none|none');
      // The detail page replaces the list row in one commit: it shows the state at once, no new load.
      flushSync(() => root.render(page('detail')));
      expect(text('detail')).toBe('7|1|7|none|none');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect({ aggregates: counted.aggregates(), projections: counted.projections() }).toEqual({ aggregates: 1, projections: 1 });
      // Still live, and released once nothing shows it.
      await store.append('o1', [item('b', 1, 3)]);
      await expect.poll(() => text('detail')).toBe('10|2|10|none|none');
      const first = roots.pop()!;
      first.root.unmount();
      first.element.remove();
      await store.append('o1', [item('c', 1, 1)]);
      const again = mount();
      again.root.render(h(Total, { store: counted.store, id: 'o1', testId: 'again' }));
      await expect.poll(() => again.text('again')).toBe('11|3|11|none|none');
      expect(counted.aggregates()).toBe(2); // a mount after the release loads afresh
    } finally {
      await store.dispose();
    }
  });

  it('hydrates server HTML without a mismatch while another view in the tab has loaded the same aggregate', async () => {
    const store = await openTestStore({ ...model, projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 1, 6)]);
      // A view mounted before (another root: a header, a widget) has loaded o1 and the projection.
      const widget = mount();
      widget.root.render(h(Total, { store, id: 'o1', testId: 'widget' }));
      await expect.poll(() => widget.text('widget')).toBe('6|1|6|none|none');
      // What a server rendered for the page (renderToString's output): no effect runs there, so the view is loading.
      // Written out rather than rendered here: react-dom/server is a dependency Vite would discover mid-run.
      const element = document.createElement('div');
      element.innerHTML = '<span data-testid="page">loading</span>';
      document.body.append(element);
      const recoverable: unknown[] = [];
      const root = hydrateRoot(element, h(Total, { store, id: 'o1', testId: 'page' }), {
        onRecoverableError: (error) => recoverable.push(error),
      });
      roots.push({ root, element });
      const text = () => element.querySelector('[data-testid="page"]')?.textContent;
      await expect.poll(text).toBe('6|1|6|none|none');
      expect(recoverable.map((error) => String(error))).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('an event this build cannot read fails its aggregate’s view with UPCAST in `error`, and only that view', async () => {
    const name = uniqueStoreName('react-upcast');
    const old = await openTestStore({ name, aggregates: [OrderV1] });
    await old.append('mixed', [{ type: 'Note', data: { text: 'ring twice' } }]);
    await old.append('paid', [{ type: 'Paid', data: { cents: 900 } }]);
    await old.close();
    const store = await openTestStore({ name, aggregates: [OrderV2] });
    try {
      const View = ({ id }: { id: string }) => {
        const { state, loading, error } = useAggregate(store, OrderV2, id);
        const code = (error as { code?: string } | null)?.code ?? 'none';
        return h('span', { 'data-testid': id }, loading ? 'loading' : `${state.cents}|${code}`);
      };
      const { root, text } = mount();
      root.render(h(StrictMode, null, h('div', null, h(View, { id: 'mixed' }), h(View, { id: 'paid' }))));
      await expect.poll(() => `${text('mixed')} ${text('paid')}`).toBe('0|UPCAST 900|none');
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('a store deleted under mounted StrictMode views: its error in each view, the last state kept', async () => {
    const name = uniqueStoreName('react-deleted');
    const store = await openTestStore({ ...model, name, projections: [Revenue] });
    try {
      await store.append('o1', [item('a', 1, 4)]);
      const { root, text } = mount();
      root.render(h(StrictMode, null, h(Total, { store, id: 'o1', testId: 'total' })));
      await expect.poll(() => text('total')).toBe('4|1|4|none|none');
      await deleteStore(name, { discardUnfinished: true });
      await expect.poll(() => text('total')).toBe('4|1|4|StoreClosedError|StoreClosedError');
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
