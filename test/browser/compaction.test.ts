// Compaction in real Chromium: the storage it gives back, measured with
// navigator.storage.estimate() before and after, and a worker killed in the
// middle of compacting (each step is one transaction: the log afterwards is
// as before or with whole batches gone, pending events all there, loads exact).
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/client/index.ts';
import { mountDevtools } from '../../src/devtools/index.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { deleteTestDatabase, uniqueStoreName } from '../../src/testing/index.ts';
import { model, Order } from '../fixtures/model.ts';

/** ~400 characters that do not compress (IndexedDB compresses values: repeated text would hide the figure). */
function noise(seed: number): string {
  let x = seed * 2654435761;
  let out = '';
  while (out.length < 400) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out += x.toString(36);
  }
  return out.slice(0, 400);
}

/** `count` confirmed events from `start`, over `orders` orders, ~600 bytes each. */
function confirmed(start: number, count: number, orders: number): StoredEvent[] {
  return Array.from({ length: count }, (_, i): StoredEvent => {
    const position = start + i;
    return {
      id: `c-${position}`,
      aggregateId: `o${position % orders}`,
      aggregateType: 'Order',
      seq: Math.floor((position - 1) / orders) + 1,
      type: 'ItemAdded',
      version: 2,
      data: { sku: `s${position % 13}`, qty: 1, price: position % 7, note: noise(position) },
      meta: { occurredAt: position, clientId: 'till-2', clientSeq: position },
      position,
    };
  });
}

async function fill(store: { importConfirmed(events: StoredEvent[]): Promise<unknown> }, total: number, orders: number) {
  for (let start = 1; start <= total; start += 5000)
    await store.importConfirmed(confirmed(start, Math.min(5000, total - start + 1), orders));
}

async function usage(): Promise<number> {
  return (await navigator.storage.estimate()).usage ?? 0;
}

describe('compaction in Chromium', () => {
  it('gives storage back: navigator.storage.estimate() before and after', async () => {
    const name = uniqueStoreName('compaction-storage');
    const store = await openStore({ ...model, name, worker: true });
    try {
      await fill(store, 40_000, 50);
      const expected = await store.load(Order, 'o7');
      const before = await usage();
      const started = performance.now();
      const report = await store.compact({ retention: { maxEvents: 2000 } });
      const ms = performance.now() - started;
      expect(report.eventsDropped).toBeGreaterThanOrEqual(37_000);
      expect(report.storage).toBeDefined();
      const after = await usage();
      // Reported so a reader sees the figure (README, "Compaction / retention").
      console.log(
        `compaction: ${report.eventsDropped} events, ${report.pagesDropped} pages, ~${(report.bytesDropped / 1e6).toFixed(1)} MB of JSON dropped in ${report.steps} steps, ${Math.round(ms)} ms; ` +
          `storage.estimate usage ${(before / 1e6).toFixed(1)} MB -> ${(after / 1e6).toFixed(1)} MB (report: ${(report.storage!.usageBefore / 1e6).toFixed(1)} -> ${(report.storage!.usageAfter / 1e6).toFixed(1)})`,
      );
      expect(after).toBeLessThan(before);
      const loaded = await store.load(Order, 'o7');
      expect(loaded.state).toEqual(expected.state);
      expect(loaded.version).toBe(expected.version);

      // Devtools says where the log it lists begins.
      const element = document.body.appendChild(document.createElement('div'));
      const panel = mountDevtools(store, element, { aggregates: [Order] });
      try {
        await panel.idle();
        const chip = element.querySelector<HTMLElement>('[data-testid="devtools-history-start"]')!;
        expect(chip.hidden).toBe(false);
        expect(chip.textContent).toBe(`history starts at ${report.historyStartsAt}`);
      } finally {
        await panel.unmount();
        element.remove();
      }
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });

  it('a worker killed while compacting leaves whole steps: pending events kept, loads exact, compaction resumes', async () => {
    const name = uniqueStoreName('compaction-kill');
    let spawned: Worker | undefined;
    const open = () =>
      openStore({
        ...model,
        name,
        worker: () => (spawned = new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module' })),
      });
    const referenceName = uniqueStoreName('compaction-ref');
    const reference = await openStore({ ...model, name: referenceName, worker: false });
    let store = await open();
    try {
      await fill(store, 10_000, 20);
      await fill(reference, 10_000, 20);
      await store.append('local', [{ type: 'ItemAdded', data: { sku: 'kept', qty: 1, price: 1 } }]);
      const running = store.compact({ retention: { maxEvents: 0 }, pagesPerStep: 1, measure: false });
      running.catch(() => undefined);
      // Kill it part way: once local history has started to move.
      const deadline = Date.now() + 20_000;
      while ((await store.info()).historyStartsAt === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      // The tab dies: its store is never closed.
      spawned!.terminate();

      store = await open();
      const info = await store.info();
      expect(info.historyStartsAt).toBeGreaterThan(1);
      expect(info.pendingEvents).toBe(1);
      expect(info.confirmedEvents).toBe(10_000 - (info.historyStartsAt - 1));
      for (const id of ['o0', 'o5', 'o19']) {
        const [got, want] = await Promise.all([store.load(Order, id), reference.load(Order, id)]);
        expect(got.state).toEqual(want.state);
      }
      const rest = await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect(rest.historyStartsAt).toBe(10_001);
      expect(await store.info()).toMatchObject({ confirmedEvents: 0, pendingEvents: 1 });
      const load = await store.load(Order, 'o5');
      expect(load.state).toEqual((await reference.load(Order, 'o5')).state);
    } finally {
      await store.close().catch(() => undefined);
      await reference.close();
      await deleteTestDatabase(name);
      await deleteTestDatabase(referenceName);
    }
  });
});
