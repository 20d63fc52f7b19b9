import { createElement as h, StrictMode, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/client/types.ts';
import { useAggregate, useProjection, useSyncStatus, useTimeTravel, type HookStore } from '../../src/react/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';
import { defineProjection } from '../../src/core/index.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

async function until(check: () => boolean, what: string, timeoutMs = 10_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The store as the hooks see it, with some of its parts replaced (to count or feed what they get). */
const hookStore = (store: HookStore, parts: Partial<HookStore>): HookStore => ({
  subscribe: store.subscribe,
  projection: store.projection,
  sync: store.sync,
  timeTravel: store.timeTravel,
  ...parts,
});

async function entries(store: { scan(): AsyncIterable<LogEntry[]> }): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const batch of store.scan()) out.push(...batch);
  return out;
}

function OrderView({ store, id }: { store: HookStore; id: string }): ReactNode {
  const { state, version, loading } = useAggregate(store, Order, id);
  const revenue = useProjection(store, Revenue);
  const sync = useSyncStatus(store);
  const travel = useTimeTravel(store);
  return h(
    'dl',
    null,
    h('dd', { 'data-testid': 'loading' }, String(loading)),
    h('dd', { 'data-testid': 'version' }, String(version)),
    h('dd', { 'data-testid': 'total' }, String(state.total)),
    h('dd', { 'data-testid': 'status' }, state.status),
    h('dd', { 'data-testid': 'revenue' }, revenue.loading ? '…' : String(revenue.state.revenue)),
    h('dd', { 'data-testid': 'sync' }, sync?.state ?? 'unknown'),
    h('dd', { 'data-testid': 'traveling' }, String(travel.traveling)),
  );
}

const mounted: { root: Root; element: HTMLElement }[] = [];

function render(node: ReactNode): (testId: string) => string | undefined {
  const element = document.createElement('div');
  document.body.append(element);
  const root = createRoot(element);
  root.render(h(StrictMode, null, node));
  mounted.push({ root, element });
  return (testId) => element.querySelector(`[data-testid="${testId}"]`)?.textContent ?? undefined;
}

afterEach(() => {
  for (const { root, element } of mounted.splice(0)) {
    root.unmount();
    element.remove();
  }
});

describe('chronicle/react hooks (react-dom in Chromium)', () => {
  it('render the store’s live state and re-render after appends', async () => {
    const store = await openTestStore({ ...model, projections: [Revenue] });
    try {
      const text = render(h(OrderView, { store, id: 'o1' }));
      await until(() => text('loading') === 'false', 'the first load');
      expect(text('version')).toBe('0');
      expect(text('total')).toBe('0');
      expect(text('status')).toBe('new');
      await until(() => text('sync') === 'disabled', 'the sync status');
      expect(text('traveling')).toBe('false');

      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('tea', 2, 4)]);
      await until(() => text('total') === '8', 'the total after the first append');
      expect(text('version')).toBe('2');
      expect(text('status')).toBe('placed');
      await until(() => text('revenue') === '8', 'the projection after the first append');

      await store.append('o1', [item('cup', 1, 9)]);
      await until(() => text('total') === '17', 'the total after the second append');
      await until(() => text('revenue') === '17', 'the projection after the second append');

      // Another stream's events reach the projection, not this aggregate.
      await store.append('o2', [item('pot', 1, 20)]);
      await until(() => text('revenue') === '37', 'the projection after an append to another order');
      expect(text('total')).toBe('17');
    } finally {
      await store.dispose();
    }
  });

  it('show the past while time traveling, then the head after resume', async () => {
    const store = await openTestStore({ ...model, projections: [Revenue] });
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('a', 1, 5)]);
      await store.append('o1', [item('b', 1, 7)]);
      await store.append('o1', [{ type: 'OrderShipped', data: { carrier: 'dhl' } }]);
      const text = render(h(OrderView, { store, id: 'o1' }));
      await until(() => text('status') === 'shipped' && text('revenue') === '12', 'the head');

      const log = await entries(store);
      store.timeTravel.to(log[1]!.cursor); // after "a" was added
      await until(() => text('traveling') === 'true', 'the travel flag');
      await until(() => text('total') === '5' && text('status') === 'placed' && text('version') === '2', 'the past order');
      await until(() => text('revenue') === '5', 'the past projection');

      store.timeTravel.to(log[0]!.cursor);
      await until(() => text('total') === '0' && text('version') === '1', 'an earlier past');

      store.timeTravel.resume();
      await until(() => text('traveling') === 'false', 'the travel flag to clear');
      await until(() => text('total') === '12' && text('status') === 'shipped' && text('version') === '4', 'the head again');
      await until(() => text('revenue') === '12', 'the projection at the head');

      // Live again: a new append shows.
      await store.append('o1', [item('c', 1, 1)]);
      await until(() => text('total') === '13', 'a new append after resume');
    } finally {
      await store.dispose();
    }
  });

  it('follow a new aggregate id when the prop changes, and stop listening on unmount', async () => {
    const store = await openTestStore({ ...model });
    try {
      await store.append('a', [item('x', 1, 1)]);
      await store.append('b', [item('y', 1, 2), item('z', 1, 2)]);
      const element = document.createElement('div');
      document.body.append(element);
      const root = createRoot(element);
      const text = (id: string) => element.querySelector(`[data-testid="${id}"]`)?.textContent;
      // The hooks see the store through a wrapper that counts live subscriptions and what they deliver.
      let live = 0;
      let deliveredAfterUnmount = 0;
      let unmounted = false;
      const counted = hookStore(store, {
        subscribe: (aggregate, aggregateId, listener, onError) => {
          live++;
          const stop = store.subscribe(
            aggregate,
            aggregateId,
            (result) => {
              if (unmounted) deliveredAfterUnmount++;
              listener(result);
            },
            onError,
          );
          return () => {
            live--;
            stop();
          };
        },
      });
      const Only = ({ id }: { id: string }) => {
        const { state, version } = useAggregate(counted, Order, id);
        return h(
          'p',
          null,
          h('span', { 'data-testid': 'total' }, String(state.total)),
          h('span', { 'data-testid': 'version' }, String(version)),
        );
      };
      root.render(h(Only, { id: 'a' }));
      await until(() => text('total') === '1', 'aggregate a');
      root.render(h(Only, { id: 'b' }));
      await until(() => text('total') === '4' && text('version') === '2', 'aggregate b');
      expect(live).toBe(1); // the subscription to 'a' was stopped when the id changed
      root.unmount();
      unmounted = true;
      element.remove();
      await Promise.resolve(); // the subscription is released a microtask after the last listener left (shared-source.ts)
      expect(live).toBe(0);
      // Appends after unmount reach no listener of the unmounted tree. A subscription of our own
      // that sees the append proves the store has delivered it wherever it still would.
      const versions: number[] = [];
      const stopProbe = store.subscribe(Order, 'b', (r) => versions.push(r.version));
      await store.append('b', [item('w', 1, 1)]);
      await until(() => versions.at(-1) === 3, 'the probe to see the append');
      stopProbe();
      expect(deliveredAfterUnmount).toBe(0);
      expect(text('total')).toBeUndefined();
    } finally {
      await store.dispose();
    }
  });

  it('show a projection’s error in its view, and a closed store’s or a bad id’s in the view, not in an error boundary', async () => {
    const Broken = defineProjection({
      name: 'broken',
      events: [ItemAdded],
      initialState: () => ({ n: 0 }),
      handlers: {
        ItemAdded: (state, event) => {
          if (event.data.sku === 'bad') throw new Error('handler failed');
          return { n: state.n + 1 };
        },
      },
    });
    const store = await openTestStore({ ...model });
    const View = ({ id }: { id: string }) => {
      const broken = useProjection(store, Broken);
      const order = useAggregate(store, Order, id);
      const failure = (error: unknown) => (error === null ? 'none' : ((error as { name?: string }).name ?? 'Error'));
      return h(
        'p',
        null,
        h('span', { 'data-testid': 'projection-error' }, broken.loading ? 'loading' : failure(broken.error)),
        h('span', { 'data-testid': 'aggregate-error' }, order.loading ? 'loading' : failure(order.error)),
      );
    };
    let text: ReturnType<typeof render> | undefined;
    try {
      await store.append('o1', [item('bad')]);
      text = render(h(View, { id: 'o1' }));
      const shown = text;
      await until(() => shown('projection-error') === 'Error', 'the projection’s error in its view');
      expect(shown('aggregate-error')).toBe('none');
      const badId = render(h(View, { id: '' }));
      await until(() => badId('aggregate-error') === 'ValidationError', 'the bad id’s error in the view');
      // What is no definition (plain JavaScript, a wrong import) goes the same way: it crashed the render with a TypeError.
      const NoDefinitions = () => {
        const order = useAggregate(store, undefined as never, 'o1');
        const broken = useProjection(store, {} as never);
        const failure = (error: unknown) => (error === null ? 'none' : ((error as { name?: string }).name ?? 'Error'));
        return h(
          'p',
          null,
          h('span', { 'data-testid': 'aggregate-error' }, order.loading ? 'loading' : failure(order.error)),
          h('span', { 'data-testid': 'projection-error' }, broken.loading ? 'loading' : failure(broken.error)),
        );
      };
      const noDefinitions = render(h(NoDefinitions));
      await until(
        () => noDefinitions('aggregate-error') === 'ValidationError' && noDefinitions('projection-error') === 'ValidationError',
        'what is no definition: its error in the view',
      );
    } finally {
      await store.dispose();
    }
    // Views mounted before the close hear it too (they kept their last state with no error before).
    const before = text!;
    await until(
      () => before('aggregate-error') === 'StoreClosedError' && before('projection-error') === 'StoreClosedError',
      'the closed store’s error in the views mounted before',
    );
    // Mounted after the store closed.
    const Later = () => {
      const later = useProjection(store, { ...Broken, name: 'later' });
      const order = useAggregate(store, Order, 'o2');
      const failure = (error: unknown) => (error as { name?: string } | null)?.name ?? 'none';
      return h(
        'p',
        null,
        h('span', { 'data-testid': 'projection-error' }, failure(later.error)),
        h('span', { 'data-testid': 'aggregate-error' }, failure(order.error)),
      );
    };
    const afterClose = render(h(Later));
    await until(
      () => afterClose('aggregate-error') === 'StoreClosedError' && afterClose('projection-error') === 'StoreClosedError',
      'the closed store’s error in the view',
    );
  });

  it('share one subscription among components showing one aggregate, and keep a definition made during render from looping', async () => {
    const store = await openTestStore({ ...model });
    let subscriptions = 0;
    let renders = 0;
    const counted = hookStore(store, {
      subscribe: (aggregate, aggregateId, listener, onError) => {
        subscriptions++;
        return store.subscribe(aggregate, aggregateId, listener, onError);
      },
    });
    const Row = ({ n }: { n: number }) => {
      renders++;
      // A projection defined in the component (a new object every render), as a parameterised one would be.
      const Count = defineProjection({
        name: 'count-inline',
        events: [ItemAdded],
        initialState: () => ({ n: 0 }),
        handlers: { ItemAdded: (state: { n: number }) => ({ n: state.n + 1 }) },
      });
      const { version } = useAggregate(counted, Order, 'shared');
      const count = useProjection(counted, Count);
      return h('span', { 'data-testid': `row-${n}` }, `${version}|${count.state.n}`);
    };
    try {
      await store.append('shared', [item('a')]);
      const text = render(h('div', null, ...Array.from({ length: 50 }, (_, n) => h(Row, { key: n, n }))));
      await until(() => text('row-0') === '1|1' && text('row-49') === '1|1', 'every row');
      await store.append('shared', [item('b'), item('c')]);
      await until(() => Array.from({ length: 50 }, (_, n) => text(`row-${n}`)).every((t) => t === '3|3'), 'every row after the append');
      // One subscription for the 50 rows, StrictMode's second run of each effect included (it reuses the first).
      expect(subscriptions).toBe(1);
      const settled = renders;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(renders).toBe(settled); // no render loop
    } finally {
      await store.dispose();
    }
  });

  it('re-render a sync status view only when the status changes, not for each identical one', async () => {
    const store = await openTestStore({ ...model });
    let renders = 0;
    let tell: ((status: Awaited<ReturnType<typeof store.sync.status>>) => void) | undefined;
    // The store tells its listeners after every append and confirmation, often with the status unchanged.
    const told = hookStore(store, {
      sync: {
        ...store.sync,
        subscribe: (listener) => {
          tell = listener;
          return () => (tell = undefined);
        },
      },
    });
    const Status = () => {
      renders++;
      const status = useSyncStatus(told);
      return h('span', { 'data-testid': 'sync' }, status ? `${status.state}|${status.pending}` : 'unknown');
    };
    try {
      const text = render(h(Status));
      await until(() => tell !== undefined, 'the subscription');
      const status = await store.sync.status();
      tell!(status);
      await until(() => text('sync') === 'disabled|0', 'the status');
      const settled = renders;
      for (let i = 0; i < 5; i++) tell!({ ...status });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(renders).toBe(settled);
      tell!({ ...status, pending: 1 });
      await until(() => text('sync') === 'disabled|1', 'the changed status');
    } finally {
      await store.dispose();
    }
  });
});
