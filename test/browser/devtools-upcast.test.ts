import { afterEach, describe, expect, it } from 'vitest';
import { mountDevtools } from '../../src/devtools/index.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { OrderV1, OrderV2 } from '../fixtures/broken-upcast.ts';

/**
 * The panel over a log holding an event whose upcaster fails (a release with
 * a wrong upcaster: test/fixtures/broken-upcast.ts). Debugging that upcaster
 * is what the panel is open for then: the log is listed whole, the event as
 * unreadable with the upcaster's error, instead of one error for the panel.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('devtools panel and an event whose upcast fails', () => {
  it('lists every event, the unreadable one too, and says why it cannot be read', async () => {
    const name = uniqueStoreName('devtools-upcast');
    const before = await openTestStore({ name, aggregates: [OrderV1], worker: false });
    await before.append('paid-0', [{ type: 'Paid', data: { cents: 1 } }]);
    const { events } = await before.append('mixed', [
      { type: 'Note', data: { text: 'ring twice' } },
      { type: 'Paid', data: { cents: 100 } },
    ]);
    for (let i = 1; i <= 5; i++) await before.append(`paid-${i}`, [{ type: 'Paid', data: { cents: 900 } }]);
    await before.close();

    const store = await openTestStore({ name, aggregates: [OrderV2], worker: false });
    cleanups.push(async () => {
      await store.close();
      await deleteTestDatabase(name);
    });
    const el = document.createElement('div');
    el.style.cssText = 'width:1100px;height:720px;position:relative;';
    document.body.append(el);
    cleanups.push(async () => el.remove());
    const panel = mountDevtools(store, el, { aggregates: [OrderV2] });
    cleanups.push(() => panel.unmount());
    await panel.idle();

    const root = el.querySelector<HTMLElement>('[data-testid="chronicle-devtools"]')!;
    expect(root.dataset.state).toBe('ready');
    const rows = [...root.querySelectorAll<HTMLElement>('[data-testid="devtools-row"]')];
    expect(rows).toHaveLength(8);
    const note = root.querySelector<HTMLElement>(`[data-testid="devtools-row"][data-id="${events[0]!.id}"]`)!;
    note.click();
    await expect.poll(() => root.textContent).toContain('Unreadable');
    expect(root.textContent).toMatch(/Upcast/i);
  });

  it('store.scan gives such an event as unreadable only when asked, and refuses an unknown option', async () => {
    const name = uniqueStoreName('scan-upcast');
    const before = await openTestStore({ name, aggregates: [OrderV1], worker: false });
    await before.append('mixed', [{ type: 'Note', data: { text: 'ring twice' } }]);
    await before.close();
    const store = await openTestStore({ name, aggregates: [OrderV2], worker: false });
    cleanups.push(async () => {
      await store.close();
      await deleteTestDatabase(name);
    });
    const read = async (options?: Parameters<typeof store.scan>[1]) => {
      const out = [];
      for await (const batch of store.scan({}, options)) out.push(...batch);
      return out;
    };
    await expect(read()).rejects.toMatchObject({ code: 'UPCAST' });
    const [entry] = await read({ upcastFailures: 'unreadable' });
    expect(entry!.event).toMatchObject({ known: false, type: 'Note', storedVersion: 1, data: { text: 'ring twice' } });
    expect((entry!.event as { upcastError?: string }).upcastError).toMatch(/Note/);
    await expect(read({ upcastFailures: 'skip' as 'throw' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(read({ batchSize: 10 } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
