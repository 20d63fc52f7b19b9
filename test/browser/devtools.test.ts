// The devtools panel in real Chromium: mounted on a store, driven like a user would.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { userEvent } from 'vitest/browser';
import type { LogEntry } from '../../src/client/index.ts';
import {
  connectBridge,
  createStoreSource,
  exposeToDevtools,
  mountDevtools,
  windowTransport,
  type DevtoolsHandle,
  type DevtoolsSource,
  type DownloadFile,
  type SourceEvent,
} from '../../src/devtools/index.ts';
import { defineReaction, StoreClosedError } from '../../src/core/index.ts';
import { openTestStore, type TestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, Order } from '../fixtures/model.ts';

type OrderStore = TestStore<typeof model.events, typeof model.aggregates>;

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });
const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

async function logOf(store: { scan(): AsyncIterable<LogEntry[]> }): Promise<LogEntry[]> {
  return (await collect(store.scan())).flat();
}

async function orderStore(worker: boolean | 'auto' = false): Promise<OrderStore> {
  const store = await openTestStore({ ...model, worker });
  cleanups.push(() => store.dispose());
  return store;
}

/** o1: placed, a (2 × 5), b (1 × 7); o2: placed, c (1 × 100); o1: shipped. */
async function sampleStore(worker: boolean | 'auto' = false): Promise<OrderStore> {
  const store = await orderStore(worker);
  await store.append('o1', [placed('ada'), item('a', 2, 5), item('b', 1, 7)]);
  await store.append('o2', [placed('bob'), item('c', 1, 100)]);
  await store.append('o1', [{ type: 'OrderShipped', data: { carrier: 'post' } }]);
  return store;
}

function container(width = 1100, height = 720): HTMLDivElement {
  const el = document.createElement('div');
  el.style.cssText = `width:${width}px;height:${height}px;position:relative;`;
  document.body.append(el);
  cleanups.push(() => el.remove());
  return el;
}

async function mount(
  store: Parameters<typeof mountDevtools>[0],
  el = container(),
  downloads: DownloadFile[] = [],
): Promise<{ panel: DevtoolsHandle; root: HTMLElement; downloads: DownloadFile[] }> {
  const panel = mountDevtools(store, el, { aggregates: [Order], download: (file) => downloads.push(file) });
  cleanups.push(() => panel.unmount());
  await panel.idle();
  const root = el.querySelector<HTMLElement>('[data-testid="chronicle-devtools"]')!;
  return { panel, root, downloads };
}

const rows = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>('[data-testid="devtools-row"]')];
const byTestId = <T extends HTMLElement = HTMLElement>(root: HTMLElement, id: string) => root.querySelector<T>(`[data-testid="${id}"]`)!;
const rowFor = (root: HTMLElement, id: string) => root.querySelector<HTMLElement>(`[data-testid="devtools-row"][data-id="${id}"]`)!;
const selectedRow = (root: HTMLElement) => root.querySelector<HTMLElement>('[data-testid="devtools-row"][aria-selected="true"]');

/** Picks an NDJSON file in the panel's import control. */
function importFile(root: HTMLElement, ndjson: string, name = 'bug-report.ndjson'): void {
  const input = byTestId<HTMLInputElement>(root, 'devtools-import-file');
  const files = new DataTransfer();
  files.items.add(new File([ndjson], name, { type: 'application/x-ndjson' }));
  input.files = files.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

describe('devtools panel', () => {
  it('lists the log in order; a store without sync marks its events local, not pending', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { root } = await mount(store);
    expect(root.dataset.state).toBe('ready');
    expect(rows(root).map((r) => r.dataset.id)).toEqual(log.map((e) => e.event.id));
    expect(rows(root).every((r) => r.dataset.status === 'local')).toBe(true);
    expect(rows(root)[0]!.querySelector('.chr-dt-badge')!.textContent).toBe('local');
    expect(rows(root)[1]!.textContent).toContain('ItemAdded');
    expect(rows(root)[1]!.textContent).toContain('o1');
    expect(byTestId(root, 'devtools-count').textContent).toBe('6 events');
  });

  it('shows characters that would reorder or hide text as their escapes, in the grid and in the event', async () => {
    const store = await orderStore();
    await store.append('\u202Egnp.exe', [placed('\u202Eevil')]);
    const { root } = await mount(store);
    const [row] = rows(root);
    expect(row!.textContent).toContain('\\u202Egnp.exe');
    expect(row!.textContent).not.toContain('\u202E');
    row!.click();
    await expect.poll(() => root.textContent).toContain('"\\u202Eevil"');
    // Everywhere else the id and the data show, too: collapsed summaries, tooltips, the event's title and
    // facts, the timeline's position and the travel banner, and what a screen reader is told.
    byTestId(root, 'devtools-first').click();
    await expect.poll(() => byTestId(root, 'devtools-slider').getAttribute('aria-valuetext')).toMatch(/1/);
    // The what-if tab names the aggregate in its intro.
    byTestId(root, 'devtools-tab-whatif').click();
    await expect.poll(() => byTestId(root, 'devtools-whatif').textContent).toContain('\\u202Egnp.exe');
    const raw: string[] = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent!.includes('\u202E')) raw.push(`text in .${node.parentElement!.className}`);
      if (!(node instanceof Element)) continue;
      for (const name of ['title', 'aria-label', 'aria-valuetext', 'label', 'placeholder'])
        if (node.getAttribute(name)?.includes('\u202E')) raw.push(`${name} of .${node.className}`);
    }
    expect(raw).toEqual([]);
  });

  it('virtualises a 20,000-event log: few rows in the DOM, the end reachable by scrolling', async () => {
    const store = await orderStore();
    const batch = (n: number) =>
      Array.from({ length: 10 }, (_, a) => ({
        aggregateId: `bulk-${n}-${a}`,
        events: Array.from({ length: 200 }, (_, i) => item(`sku-${i}`, 1, i)),
      }));
    for (let n = 0; n < 10; n++) await store.appendBatch(batch(n));
    const info = await store.info();
    expect(info.pendingEvents).toBe(20_000);
    const { panel, root } = await mount(store);
    expect(root.dataset.total).toBe('20000');
    expect(rows(root).length).toBeGreaterThan(10);
    expect(rows(root).length).toBeLessThan(200);

    const scroller = root.querySelector<HTMLElement>('.chr-dt-scroller')!;
    scroller.scrollTop = scroller.scrollHeight;
    scroller.dispatchEvent(new Event('scroll'));
    const log = await logOf(store);
    const lastId = log[log.length - 1]!.event.id;
    expect(rowFor(root, lastId)).not.toBeNull();
    expect(rows(root).length).toBeLessThan(200);

    // A filter narrows the list without a freeze; the count says how many matched.
    const aggregate = byTestId<HTMLInputElement>(root, 'devtools-filter-aggregate');
    await userEvent.fill(aggregate, 'bulk-9-9');
    await panel.idle();
    expect(root.dataset.count).toBe('200');
    expect(rows(root).every((r) => r.textContent!.includes('bulk-9-9'))).toBe(true);
  });

  it('shows the selected event, the state before and after it, and the difference', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { panel, root } = await mount(store);
    const addB = log[2]!; // o1: ItemAdded b (1 × 7)
    rowFor(root, addB.event.id).click();
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(addB.event.id);
    expect(byTestId(root, 'devtools-event-data').textContent).toContain('"b"');
    expect(byTestId(root, 'devtools-event-meta').textContent).toContain('clientSeq');
    const before = byTestId(root, 'devtools-state-before').textContent!;
    const after = byTestId(root, 'devtools-state-after').textContent!;
    expect(before).toContain('total: 10');
    expect(before).not.toContain('b:');
    expect(after).toContain('total: 17');
    expect(after).toContain('version 3');
    const diff = byTestId(root, 'devtools-diff');
    const changes = [...diff.querySelectorAll<HTMLElement>('.chr-dt-diff-item')].map(
      (li) => `${li.dataset.kind} ${li.querySelector('.chr-dt-diff-path')!.textContent}`,
    );
    expect(changes).toEqual(['added .lines.b', 'changed .total']);
    expect(diff.textContent).toContain('10');
    expect(diff.textContent).toContain('17');
  });

  it('travels with the slider and the step buttons: the app reads the past, resume returns to the head', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { panel, root } = await mount(store);
    const click = async (id: string) => {
      byTestId<HTMLButtonElement>(root, id).click();
      await panel.idle();
    };
    expect(byTestId<HTMLButtonElement>(root, 'devtools-resume').disabled).toBe(true);

    await click('devtools-first');
    expect(store.timeTravel.position()).toEqual(log[0]!.cursor);
    expect((await store.load(Order, 'o1')).state).toMatchObject({ status: 'placed', total: 0 });
    expect(root.dataset.traveling).toBe('true');
    expect(byTestId(root, 'devtools-banner').hidden).toBe(false);
    expect(selectedRow(root)?.dataset.id).toBe(log[0]!.event.id);

    await click('devtools-next');
    expect(store.timeTravel.position()).toEqual(log[1]!.cursor);
    expect((await store.load(Order, 'o1')).state.total).toBe(10);
    await click('devtools-next');
    expect((await store.load(Order, 'o1')).state.total).toBe(17);
    await click('devtools-prev');
    expect(store.timeTravel.position()).toEqual(log[1]!.cursor);

    // The slider: value n is the n-th listed event.
    const slider = byTestId<HTMLInputElement>(root, 'devtools-slider');
    expect(slider.max).toBe('6');
    slider.value = '5';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    await panel.idle();
    expect(store.timeTravel.position()).toEqual(log[4]!.cursor);
    expect((await store.load(Order, 'o2')).state.total).toBe(100);
    expect((await store.load(Order, 'o1')).state.status).toBe('placed');
    expect(rowFor(root, log[5]!.event.id).dataset.travel).toBe('future');
    expect(rowFor(root, log[4]!.event.id).dataset.travel).toBe('here');
    await expect(store.append('o1', [item('z')])).rejects.toMatchObject({ name: 'TimeTravelError' });

    await click('devtools-last');
    expect(store.timeTravel.position()).toEqual(log[5]!.cursor);

    await click('devtools-resume');
    expect(store.timeTravel.position()).toBeNull();
    expect((await store.load(Order, 'o1')).state).toMatchObject({ status: 'shipped', total: 17 });
    expect(root.dataset.traveling).toBe('false');
    expect(byTestId(root, 'devtools-banner').hidden).toBe(true);
  });

  it('follows time travel started elsewhere (the app, another tool)', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { panel, root } = await mount(store);
    store.timeTravel.to(log[3]!.cursor);
    await expect.poll(() => root.dataset.traveling).toBe('true');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[3]!.event.id);
    expect(byTestId<HTMLInputElement>(root, 'devtools-slider').value).toBe('4');
    store.timeTravel.resume();
    await expect.poll(() => root.dataset.traveling).toBe('false');
  });

  it('what-if: leaving events out changes the state shown, not the log', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const linesBefore = await collect(store.exportLog());
    const { panel, root } = await mount(store);
    const addA = log[1]!; // o1: a (2 × 5)
    const skip = rowFor(root, addA.event.id).querySelector<HTMLInputElement>('[data-testid="devtools-skip"]')!;
    skip.click();
    await panel.idle();
    expect(rowFor(root, addA.event.id).dataset.skipped).toBe('true');
    rowFor(root, log[5]!.event.id).click(); // o1 shipped
    byTestId(root, 'devtools-tab-whatif').click();
    await panel.idle();
    const whatIf = byTestId(root, 'devtools-whatif');
    expect(whatIf.textContent).toContain('without 1 event');
    expect(byTestId(root, 'devtools-whatif-state').textContent).toContain('total: 7');
    expect(byTestId(root, 'devtools-whatif-state').textContent).not.toContain('a:');
    expect(byTestId(root, 'devtools-whatif-actual').textContent).toContain('total: 17');
    expect(byTestId(root, 'devtools-whatif-diff').textContent).toContain('.lines.a');
    // Nothing was written or removed.
    expect(await collect(store.exportLog())).toEqual(linesBefore);
    expect((await store.load(Order, 'o1')).state.total).toBe(17);

    // Events of another aggregate do not count for this one.
    rowFor(root, log[3]!.event.id).click(); // o2 placed
    await panel.idle();
    expect(byTestId(root, 'devtools-whatif-state').closest('[hidden]')).not.toBeNull();
    byTestId(root, 'devtools-clear-skips').click();
    await panel.idle();
    expect(rowFor(root, addA.event.id).dataset.skipped).toBeUndefined();
  });

  it('exports the log, or the filtered part, as the NDJSON store.exportLog writes', async () => {
    const store = await sampleStore();
    const { panel, root, downloads } = await mount(store);
    byTestId(root, 'devtools-export').click();
    await panel.idle();
    expect(downloads).toHaveLength(1);
    const file = downloads[0]!;
    expect(file.filename).toMatch(/\.ndjson$/);
    expect(file.blob.type).toBe('application/x-ndjson');
    const text = await file.blob.text();
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1).split('\n')).toEqual(await collect(store.exportLog()));

    await userEvent.fill(byTestId<HTMLInputElement>(root, 'devtools-filter-aggregate'), 'o2');
    await panel.idle();
    expect(root.dataset.count).toBe('2');
    byTestId(root, 'devtools-export').click();
    await panel.idle();
    const filtered = (await downloads[1]!.blob.text()).trimEnd().split('\n');
    expect(filtered).toEqual(await collect(store.exportLog({ aggregateIds: ['o2'] })));

    // A text filter too: only the listed events.
    await userEvent.fill(byTestId<HTMLInputElement>(root, 'devtools-filter-aggregate'), '');
    await userEvent.fill(byTestId<HTMLInputElement>(root, 'devtools-filter-text'), '"sku":"c"');
    await panel.idle();
    expect(root.dataset.count).toBe('1');
    byTestId(root, 'devtools-export').click();
    await panel.idle();
    const one = (await downloads[2]!.blob.text()).trimEnd().split('\n');
    expect(one).toHaveLength(1);
    expect(JSON.parse(one[0]!)).toMatchObject({ aggregateId: 'o2', type: 'ItemAdded', data: { sku: 'c' } });
  });

  it('imports an NDJSON file into a scratch store and lists the same events', async () => {
    const source = await sampleStore();
    const ndjson = (await collect(source.exportLog())).join('\n');
    const sourceLog = await logOf(source);
    const store = await orderStore();
    await store.append('x1', [placed('other')]);
    const { panel, root } = await mount(store);
    expect(rows(root)).toHaveLength(1);

    importFile(root, ndjson);
    await panel.idle();
    expect(root.dataset.source).toBe('scratch');
    expect(rows(root).map((r) => r.dataset.id)).toEqual(sourceLog.map((e) => e.event.id));
    expect(byTestId(root, 'devtools-status').textContent).toContain('Imported 6 events');
    // The scratch store computes states like the original.
    rowFor(root, sourceLog[2]!.event.id).click();
    await panel.idle();
    expect(byTestId(root, 'devtools-state-after').textContent).toContain('total: 17');
    // The live store is untouched; back to it.
    expect(await collect(store.exportLog())).toHaveLength(1);
    byTestId(root, 'devtools-back').click();
    await panel.idle();
    expect(root.dataset.source).toBe('live');
    expect(rows(root)).toHaveLength(1);
  });

  for (const back of [false, true]) {
    it(`unmount resumes the travel it started on the live store, after an import${back ? ' and back to the live store' : ''}`, async () => {
      const store = await sampleStore();
      const ndjson = (await collect(store.exportLog())).join('\n');
      const { panel, root } = await mount(store);
      byTestId(root, 'devtools-first').click();
      await panel.idle();
      expect(store.timeTravel.position()).not.toBeNull();

      importFile(root, ndjson);
      await panel.idle();
      expect(root.dataset.source).toBe('scratch');
      if (back) {
        byTestId(root, 'devtools-back').click();
        await panel.idle();
        expect(root.dataset.source).toBe('live');
      }
      await panel.unmount();
      expect(store.timeTravel.position()).toBeNull();
      await store.append('o3', [placed('cy')]);
    });
  }

  it('unmount leaves the travel the app moved the live store to while a scratch store showed', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { panel, root } = await mount(store);
    byTestId(root, 'devtools-first').click();
    await panel.idle();
    importFile(root, (await collect(store.exportLog())).join('\n'));
    await panel.idle();
    // While the scratch store shows, the app moves the live store on: that travel is the app's.
    store.timeTravel.to(log[2]!.cursor);
    await panel.unmount();
    expect(store.timeTravel.position()).toEqual(log[2]!.cursor);
    store.timeTravel.resume();
  });

  it('mounted on a closed store: throws the store error and leaves nothing in the element', async () => {
    const store = await orderStore();
    await store.close();
    const el = container();
    expect(() => mountDevtools(store, el, { aggregates: [Order] })).toThrow(StoreClosedError);
    expect(el.childNodes).toHaveLength(0);
  });

  it('is driven from the keyboard: arrows, Home, End, Enter, Space and t', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const { panel, root } = await mount(store);
    const grid = root.querySelector<HTMLElement>('[role="grid"]')!;
    // Keyboard focus on the grid puts the selection on the first row.
    grid.focus();
    expect(document.activeElement).toBe(grid);
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[0]!.event.id);
    await userEvent.keyboard('{ArrowDown}');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[1]!.event.id);
    await userEvent.keyboard('{ArrowDown}');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[2]!.event.id);
    expect(grid.getAttribute('aria-activedescendant')).toBe(selectedRow(root)!.id);
    expect(byTestId(root, 'devtools-state-after').textContent).toContain('total: 17');
    await userEvent.keyboard('{End}');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[5]!.event.id);
    await userEvent.keyboard('{ArrowUp}');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[4]!.event.id);
    await userEvent.keyboard('{Home}');
    await userEvent.keyboard('{Enter}');
    await panel.idle();
    expect(selectedRow(root)?.dataset.id).toBe(log[0]!.event.id);
    expect(selectedRow(root)?.getAttribute('aria-rowindex')).toBe('2');
    await userEvent.keyboard(' ');
    await panel.idle();
    expect(rowFor(root, log[0]!.event.id).dataset.skipped).toBe('true');
    await userEvent.keyboard('t');
    await panel.idle();
    expect(store.timeTravel.position()).toEqual(log[0]!.cursor);
    await userEvent.keyboard('{Escape}');
    await panel.idle();
    expect(store.timeTravel.position()).toBeNull();
    expect(document.activeElement).toBe(grid);
  });

  it('fits a 360 px wide container without horizontal overflow', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    const el = container(360, 780);
    const { panel, root } = await mount(store, el);
    rowFor(root, log[2]!.event.id).click();
    await panel.idle();
    byTestId<HTMLButtonElement>(root, 'devtools-first').click();
    await panel.idle();
    const overflowing = (scope: HTMLElement) => {
      const limit = scope.getBoundingClientRect().right + 0.5;
      const out: string[] = [];
      for (const node of scope.querySelectorAll<HTMLElement>('*')) {
        if (node.closest('[hidden]') || node.getClientRects().length === 0) continue;
        if (node.getBoundingClientRect().right > limit) out.push(`${node.tagName.toLowerCase()}.${node.className}`);
      }
      return out;
    };
    expect(root.getBoundingClientRect().width).toBe(360);
    expect(root.scrollWidth).toBeLessThanOrEqual(root.clientWidth);
    expect(overflowing(root)).toEqual([]);
    for (const tab of ['whatif', 'sync'] as const) {
      byTestId(root, `devtools-tab-${tab}`).click();
      await panel.idle();
      expect(overflowing(root)).toEqual([]);
    }
    // The rows still say what they are at this width.
    expect(rows(root)[0]!.textContent).toContain('OrderPlaced');
  });

  it('shows the sync view: state, positions, pending count', async () => {
    const store = await sampleStore();
    const { panel, root } = await mount(store);
    expect(byTestId(root, 'devtools-sync-summary').textContent).toContain('sync off · 6 local');
    byTestId(root, 'devtools-tab-sync').click();
    await panel.idle();
    const sync = byTestId(root, 'devtools-sync');
    expect(byTestId(sync, 'devtools-sync-state').textContent).toContain('disabled');
    expect(byTestId(sync, 'devtools-sync-pending').textContent).toBe('6');
    expect(byTestId(sync, 'devtools-sync-head').textContent).toBe('0');
    expect(byTestId(sync, 'devtools-sync-confirmed').textContent).toBe('0');
    // This client's pending events, as the clientSeq ranges a push would send.
    expect(byTestId(sync, 'devtools-sync-ranges').textContent).toBe('1–6');
    expect(sync.textContent).toContain('No outcomes yet');
  });

  it('marks events rebased during the session, from sync outcomes', async () => {
    const store = await sampleStore();
    const log = await logOf(store);
    // A source whose outcome feed we drive, as a rebase would.
    const inner = createStoreSource(store, { aggregates: [Order] });
    const listeners = new Set<(event: SourceEvent) => void>();
    const source: DevtoolsSource = {
      ...inner,
      subscribe(listener) {
        listeners.add(listener);
        const stop = inner.subscribe(listener);
        return () => {
          listeners.delete(listener);
          stop();
        };
      },
    };
    cleanups.push(() => inner.dispose());
    const { panel, root } = await mount(source);
    const moved = log[4]!.event;
    for (const listener of listeners) {
      listener({
        kind: 'outcomes',
        outcomes: [{ id: moved.id, aggregateId: 'o2', type: moved.type, status: 'rebased', previousSeq: 2, seq: 3 }],
      });
    }
    await panel.idle();
    expect(rowFor(root, moved.id).dataset.status).toBe('rebased');
    expect(rowFor(root, log[0]!.event.id).dataset.status).toBe('local');
    byTestId(root, 'devtools-tab-sync').click();
    await panel.idle();
    expect(byTestId(root, 'devtools-sync').textContent).toContain('seq 2 → 3');
  });

  it('picks up events appended after it opened', async () => {
    const store = await sampleStore();
    const { panel, root } = await mount(store);
    const [{ events }] = [await store.append('o3', [placed('cy'), item('d', 3, 2)])];
    await expect.poll(() => root.dataset.total).toBe('8');
    await panel.idle();
    expect(rowFor(root, events[1]!.id).dataset.status).toBe('local');
  });

  it('offers each event type once, sorted, and adds the types of new events to the type filter in place', async () => {
    const store = await orderStore();
    await store.append('o1', [placed('ada'), { type: 'OrderShipped', data: { carrier: 'post' } }]);
    // Without aggregates the source knows no type up front: the filter offers what the log holds.
    const { panel, root } = await mount(createStoreSource(store, {}));
    const select = byTestId<HTMLSelectElement>(root, 'devtools-filter-type');
    const values = () => [...select.options].map((option) => option.value);
    expect(values()).toEqual(['', 'OrderPlaced', 'OrderShipped']);
    select.value = 'OrderShipped';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    await panel.idle();
    const [, placedOption, shippedOption] = [...select.options];

    await store.append('o2', [placed('bob'), item('a'), { type: 'ItemRemoved', data: { sku: 'a' } }, item('b')]);
    await expect.poll(() => root.dataset.total).toBe('6');
    await panel.idle();
    expect(values()).toEqual(['', 'ItemAdded', 'ItemRemoved', 'OrderPlaced', 'OrderShipped']);
    // The options already there stay (the select is not rebuilt for each page), and so does the choice.
    expect(select.options[3]).toBe(placedOption);
    expect(select.options[4]).toBe(shippedOption);
    expect(select.value).toBe('OrderShipped');
  });

  it('a store that syncs: its events are pending until the server confirms them, then show their position', async () => {
    const log = `devtools-${Date.now().toString(36)}`;
    const store = await openTestStore({
      ...model,
      worker: false,
      sync: { url: inject('syncUrl'), log, token: 'browser-token', pollIntervalMs: 60_000, initialBackoffMs: 50 },
    });
    cleanups.push(() => store.dispose());
    await store.sync.pause();
    const { events } = await store.append('o1', [placed('ada'), item('a')]);
    const { panel, root } = await mount(store);
    expect(rows(root).map((r) => r.dataset.status)).toEqual(['pending', 'pending']);
    expect(byTestId(root, 'devtools-sync-summary').textContent).toContain('2 pending');
    await store.sync.resume();
    await store.sync.syncNow();
    await expect.poll(() => rowFor(root, events[1]!.id)?.dataset.status).toBe('confirmed');
    await panel.idle();
    const confirmed = rows(root).map((r) => r.querySelector('.chr-dt-badge')!.textContent);
    expect(confirmed.every((text) => /^✓ \d+$/.test(text ?? ''))).toBe(true);
  });

  it('says so when an aggregate has no definition, and shows Maps and Sets as such', async () => {
    const store = await sampleStore();
    const { panel, root } = await mount(createStoreSource(store, {}));
    rows(root)[0]!.click();
    await panel.idle();
    expect(byTestId(root, 'devtools-state-after').textContent).toContain('No definition of the Order aggregate');
  });

  it('shows store.metrics() in the Metrics tab, read again while it shows and never while it is hidden', async () => {
    const store = await sampleStore();
    // A source that counts the metrics reads, to see the refresh is paced, not a loop.
    const inner = createStoreSource(store, { aggregates: [Order] });
    cleanups.push(() => inner.dispose());
    let reads = 0;
    const source: DevtoolsSource = {
      ...inner,
      metrics() {
        reads++;
        return inner.metrics();
      },
    };
    const { panel, root } = await mount(source);
    expect(reads).toBe(0);
    byTestId(root, 'devtools-tab-metrics').click();
    await panel.idle();
    const metrics = byTestId(root, 'devtools-metrics');
    const cell = (figure: string, stat: string) =>
      metrics.querySelector(`[data-testid="devtools-metrics-row"][data-figure="${figure}"] [data-stat="${stat}"]`)!.textContent;
    expect(cell('append', 'count')).toBe('3');
    expect(cell('append', 'p99')).toMatch(/ms$/);
    expect(cell('replay', 'count')).toBe('0');
    expect(metrics.textContent).toContain('This store does not sync');

    // New appends show without touching the panel.
    await store.append('o3', [placed('cy')]);
    await store.append('o3', [item('d')]);
    await expect.poll(() => cell('append', 'count'), { timeout: 10_000 }).toBe('5');
    // Paced: a read a second while it shows (a loop would make hundreds).
    const before = reads;
    await new Promise((r) => setTimeout(r, 1500));
    expect(reads - before).toBeGreaterThanOrEqual(1);
    expect(reads - before).toBeLessThanOrEqual(3);

    // Hidden: no more reads at all.
    byTestId(root, 'devtools-tab-event').click();
    await panel.idle();
    await new Promise((r) => setTimeout(r, 50));
    const hiddenAt = reads;
    await new Promise((r) => setTimeout(r, 1500));
    expect(reads).toBe(hiddenAt);
  });

  it('shows sync lag, the pending count and the oldest pending event in the Metrics tab', async () => {
    const log = `devtools-metrics-${Date.now().toString(36)}`;
    const store = await openTestStore({
      ...model,
      worker: false,
      sync: { url: inject('syncUrl'), log, token: 'browser-token', pollIntervalMs: 60_000, initialBackoffMs: 50 },
    });
    cleanups.push(() => store.dispose());
    await store.sync.pause();
    await store.append('o1', [{ ...placed('ada'), meta: { occurredAt: Date.now() - 90_000 } }, item('a')]);
    const { panel, root } = await mount(store);
    byTestId(root, 'devtools-tab-metrics').click();
    await panel.idle();
    const metrics = byTestId(root, 'devtools-metrics');
    expect(byTestId(metrics, 'devtools-metrics-sync-state').textContent).toBe('paused');
    expect(byTestId(metrics, 'devtools-metrics-pending').textContent).toBe('2');
    expect(byTestId(metrics, 'devtools-metrics-oldest-pending').textContent).toMatch(/^1 min 3\d s$/);
    expect(byTestId(metrics, 'devtools-metrics-lag-events').textContent).toBe('0');
    await store.sync.resume();
    await store.sync.syncNow();
    await expect.poll(() => byTestId(metrics, 'devtools-metrics-pending').textContent, { timeout: 10_000 }).toBe('0');
    expect(byTestId(metrics, 'devtools-metrics-oldest-pending').textContent).toBe('none');
  });

  it('lists reactions and their parked events; Retry delivers one once the handler is fixed, Skip gives one up', async () => {
    let failing = true;
    const delivered: string[] = [];
    const Charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 2,
      backoff: { initialMs: 1, maxMs: 2 },
      handlers: {
        ItemAdded: (event) => {
          if (failing) throw new Error(`card declined for ${event.data.sku}`);
          delivered.push(event.id);
        },
      },
    });
    const store = await openTestStore({ ...model, worker: false, reactions: [Charge] });
    cleanups.push(() => store.dispose());
    const { panel, root } = await mount(store);
    byTestId(root, 'devtools-tab-reactions').click();
    await panel.idle();
    const reactions = byTestId(root, 'devtools-reactions');
    expect(reactions.querySelector('[data-testid="devtools-reaction"][data-name="charge"]')).not.toBeNull();
    expect(reactions.textContent).toContain('No parked events');

    const { events } = await store.append('o1', [item('a'), item('b')]);
    const [a, b] = [events[0]!.id, events[1]!.id];
    const parkedRows = () =>
      [...reactions.querySelectorAll<HTMLElement>('[data-testid="devtools-parked-row"]')].map((r) => r.dataset.id).sort();
    await expect.poll(parkedRows, { timeout: 10_000 }).toEqual([a, b].sort());
    const row = (id: string) => reactions.querySelector<HTMLElement>(`[data-testid="devtools-parked-row"][data-id="${id}"]`)!;
    expect(row(a).textContent).toContain('card declined for a');
    expect(row(a).textContent).toContain('ItemAdded o1 #1');

    failing = false;
    byTestId<HTMLButtonElement>(row(a), 'devtools-parked-retry').click();
    await expect.poll(parkedRows, { timeout: 10_000 }).toEqual([b]);
    expect(delivered).toEqual([a]);

    byTestId<HTMLButtonElement>(row(b), 'devtools-parked-skip').click();
    await expect.poll(parkedRows, { timeout: 10_000 }).toEqual([]);
    expect(await store.reactions.parked()).toEqual([]);
    expect(delivered).toEqual([a]);
    await panel.idle();
    expect(reactions.querySelector('[data-testid="devtools-reaction"][data-name="charge"]')!.getAttribute('data-state')).toBe('caught-up');
  });

  it('works the same over the extension bridge (window messages)', async () => {
    const store = await sampleStore('auto');
    const log = await logOf(store);
    const exposed = exposeToDevtools(store, { aggregates: [Order] });
    cleanups.push(() => exposed.close());
    const { client, source, store: name } = await connectBridge(windowTransport('panel'));
    cleanups.push(() => client.close());
    expect(name).toBe(store.name);
    const { panel, root } = await mount(source);
    expect(rows(root).map((r) => r.dataset.id)).toEqual(log.map((e) => e.event.id));
    rowFor(root, log[2]!.event.id).click();
    await panel.idle();
    expect(byTestId(root, 'devtools-state-after').textContent).toContain('total: 17');
    byTestId(root, 'devtools-first').click();
    await panel.idle();
    expect(store.timeTravel.position()).toEqual(log[0]!.cursor);
    byTestId(root, 'devtools-resume').click();
    await panel.idle();
    expect(store.timeTravel.position()).toBeNull();
  });
});
