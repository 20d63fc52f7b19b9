// The devtools grid over more rows than a browser can make an element tall (Chromium: 33,554,432 px).
import { afterEach, expect, it } from 'vitest';
import { MAX_SCROLL_HEIGHT } from '../../src/devtools/ui/scroll-scale.ts';
import { VirtualGrid } from '../../src/devtools/ui/virtual-grid.ts';

const ROW = 28;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function mountGrid(count: number): VirtualGrid {
  const host = document.createElement('div');
  host.style.cssText = 'width:600px;height:400px;position:relative;display:flex;flex-direction:column';
  document.body.append(host);
  const grid = new VirtualGrid({
    rowHeight: ROW,
    label: 'rows',
    header: document.createElement('div'),
    count: () => count,
    createRow: () => document.createElement('div'),
    renderRow: (row, index) => {
      row.textContent = `row ${index}`;
      row.style.height = `${ROW}px`;
    },
  });
  grid.scroller.style.cssText = 'height:380px;overflow:auto;position:relative';
  host.append(grid.element);
  grid.refresh();
  cleanups.push(() => {
    grid.destroy();
    host.remove();
  });
  return grid;
}

/** Whether row `index` is rendered and wholly inside the scroller's view. */
function shown(grid: VirtualGrid, index: number): boolean {
  const row = grid.rowElement(index);
  if (!row || row.textContent !== `row ${index}`) return false;
  const view = grid.scroller.getBoundingClientRect();
  const box = row.getBoundingClientRect();
  return box.top >= view.top - 0.5 && box.bottom <= view.bottom + 0.5;
}

it('scrolls to the last of 2M rows, beyond the browser height cap', () => {
  const count = 2_000_000;
  const grid = mountGrid(count);
  grid.scrollToIndex(count - 1, 'end');
  expect(shown(grid, count - 1)).toBe(true);
  expect(grid.isAtBottom()).toBe(true);
  expect(grid.scroller.scrollHeight).toBeLessThanOrEqual(MAX_SCROLL_HEIGHT);
});

it('scrolls to rows in the middle and back to the first of 2M rows', () => {
  const count = 2_000_000;
  const grid = mountGrid(count);
  for (const index of [1_500_000, 1_234_567, 999_999]) {
    grid.scrollToIndex(index);
    expect(shown(grid, index)).toBe(true);
  }
  grid.scrollToIndex(0);
  expect(shown(grid, 0)).toBe(true);
  expect(grid.scroller.scrollTop).toBe(0);
});

it('places rows one to one under the cap', () => {
  const grid = mountGrid(1000);
  expect(grid.scroller.scrollHeight).toBe(1000 * ROW);
  grid.scrollToIndex(999, 'end');
  expect(shown(grid, 999)).toBe(true);
});
