// Issue 9, point 6: close() settles every call in flight, refuses every later
// call with StoreClosedError, and stops replay jobs with AbortedError after
// saving their checkpoint, in worker and in-process mode alike.
import { describe, expect, it } from 'vitest';
import { AbortedError, StoreClosedError } from '../../src/core/errors.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Order, Revenue } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe.each(modes)('close ($mode)', ({ worker }) => {
  it('every call in flight settles: it completes or rejects with StoreClosedError', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    await store.appendBatch([{ aggregateId: 'o1', events: Array.from({ length: 3000 }, (_, i) => item(`s${i}`)) }]);
    const calls: Promise<unknown>[] = [
      store.load(Order, 'o1'),
      store.append('o2', [item('late')]),
      collect(store.readLog()),
      store.projection(Revenue).get(),
      store.info(),
      store.sync.status(),
      store.inspect(Order, 'o1', { until: null }),
    ];
    await store.close();
    const settled = await Promise.allSettled(calls);
    for (const outcome of settled) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(StoreClosedError);
    }
    const reopened = await openTestStore({ ...model, worker, name: store.name });
    await reopened.dispose();
  });

  it('calls after close() reject with StoreClosedError (not comlink’s "Proxy has been released")', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    await store.append('o1', [item('a')]);
    await store.close();
    const attempts: [string, () => Promise<unknown>][] = [
      ['append', () => store.append('o1', [item('b')])],
      ['appendBatch', () => store.appendBatch([{ aggregateId: 'o1', events: [item('b')] }])],
      ['load', () => store.load(Order, 'o1')],
      ['snapshot', () => store.snapshot(Order, 'o1')],
      ['readLog', () => collect(store.readLog())],
      ['readStream', () => collect(store.readStream('o1'))],
      ['exportLog', () => collect(store.exportLog())],
      ['replay', () => store.replay({ handler: () => undefined })],
      ['projection.get', () => store.projection(Revenue).get()],
      ['info', () => store.info()],
      ['sync.status', () => store.sync.status()],
      ['importLog', () => store.importLog('')],
    ];
    for (const [what, attempt] of attempts) {
      const error = await attempt().then(
        () => new Error(`${what} resolved`),
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(StoreClosedError);
    }
    expect(() => store.subscribeLog(() => undefined)).toThrow(StoreClosedError);
    expect(() => store.subscribe(Order, 'o1', () => undefined)).toThrow(StoreClosedError);
    // Closing twice is fine.
    await store.close();
    const reopened = await openTestStore({ ...model, worker, name: store.name });
    await reopened.dispose();
  });

  it('a running replay job ends with AbortedError and its checkpoint saved; the rerun handles each event once', async () => {
    const store = await openOrderStore(worker);
    await store.appendBatch([{ aggregateId: 'o1', events: Array.from({ length: 500 }, (_, i) => item(`s${i}`)) }]);
    const handled: string[] = [];
    let release: (() => void) | undefined;
    let reached!: () => void;
    const atHundred = new Promise<void>((resolve) => (reached = resolve));
    const job = store.replay({
      name: 'close-me',
      async handler(event) {
        handled.push(event.id);
        if (handled.length === 100) {
          reached();
          await new Promise<void>((resolve) => (release = resolve));
        }
      },
    });
    await atHundred;
    const closed = store.close();
    release!();
    await closed;
    await expect(job).rejects.toBeInstanceOf(AbortedError);
    expect(handled).toHaveLength(100);
    const reopened = await openTestStore({ ...model, worker, name: store.name });
    try {
      const result = await reopened.replay({ name: 'close-me', handler: (event) => void handled.push(event.id) });
      expect(result.resumed).toBe(true);
      expect(handled).toHaveLength(500);
      expect(new Set(handled).size).toBe(500);
    } finally {
      await reopened.dispose();
    }
  });

  it('a projection rebuild running at close ends with AbortedError', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    await store.appendBatch([{ aggregateId: 'o1', events: Array.from({ length: 20_000 }, (_, i) => item(`s${i}`)) }]);
    const rebuild = store.projection(Revenue).rebuild();
    await store.close();
    const outcome = await rebuild.then(
      () => 'finished',
      (e: unknown) => e,
    );
    // A rebuild that finished before close noticed is fine too; one that did not ends aborted.
    if (outcome !== 'finished') expect(outcome).toBeInstanceOf(AbortedError);
    const reopened = await openTestStore({ ...model, worker, name: store.name });
    await reopened.dispose();
  });
});
