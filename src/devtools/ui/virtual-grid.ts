/**
 * A virtualised grid of fixed-height rows: only the rows in view (plus a
 * few either side) exist in the DOM, recycled as the list scrolls, so
 * 100,000 rows cost what 40 do.
 */
import { h } from './dom.ts';

export interface VirtualGridOptions {
  rowHeight: number;
  /** Rows kept beyond each edge of the view. */
  overscan?: number;
  label: string;
  header: HTMLElement;
  count(): number;
  createRow(): HTMLElement;
  /** Fills a recycled row element for row `index`. */
  renderRow(row: HTMLElement, index: number): void;
}

export class VirtualGrid {
  readonly element: HTMLDivElement;
  readonly scroller: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly pool: HTMLElement[] = [];
  private readonly overscan: number;
  private readonly resizeObserver: ResizeObserver | undefined;
  private first = 0;
  private last = -1;
  private renderedCount = -1;

  constructor(private readonly options: VirtualGridOptions) {
    this.overscan = options.overscan ?? 8;
    this.spacer = h('div', { class: 'chr-dt-spacer', attrs: { role: 'rowgroup' } });
    this.scroller = h('div', { class: 'chr-dt-scroller' }, this.spacer);
    this.element = h(
      'div',
      { class: 'chr-dt-grid', attrs: { role: 'grid', tabindex: 0, 'aria-label': options.label, 'aria-readonly': 'true' } },
      h('div', { class: 'chr-dt-grid-head', attrs: { role: 'rowgroup' } }, options.header),
      this.scroller,
    );
    this.scroller.addEventListener('scroll', () => this.render(), { passive: true });
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => this.render());
      this.resizeObserver.observe(this.scroller);
    }
  }

  /** Rows whose data changed (or all of them): re-renders what is in view. */
  refresh(): void {
    this.renderedCount = -1;
    this.render();
  }

  /** Scrolls so that `index` is in view (the least movement that does it). */
  scrollToIndex(index: number, align: 'nearest' | 'start' | 'end' = 'nearest'): void {
    const { rowHeight } = this.options;
    const top = index * rowHeight;
    const view = this.scroller.clientHeight;
    const current = this.scroller.scrollTop;
    let next = current;
    if (align === 'start') next = top;
    else if (align === 'end') next = top + rowHeight - view;
    else if (top < current) next = top;
    else if (top + rowHeight > current + view) next = top + rowHeight - view;
    next = Math.max(0, next);
    if (next !== current) this.scroller.scrollTop = next;
    this.render();
  }

  /** How many rows fit in the view. */
  pageSize(): number {
    return Math.max(1, Math.floor(this.scroller.clientHeight / this.options.rowHeight));
  }

  isAtBottom(): boolean {
    const { scrollTop, clientHeight, scrollHeight } = this.scroller;
    return scrollTop + clientHeight >= scrollHeight - this.options.rowHeight;
  }

  /** The element showing row `index`, if it is in the DOM. */
  rowElement(index: number): HTMLElement | undefined {
    if (index < this.first || index > this.last) return undefined;
    return this.pool[index - this.first];
  }

  render(): void {
    const { rowHeight } = this.options;
    const count = this.options.count();
    const height = count * rowHeight;
    if (this.spacer.style.height !== `${height}px`) this.spacer.style.height = `${height}px`;
    const view = this.scroller.clientHeight || rowHeight * 20;
    const top = this.scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / rowHeight) - this.overscan);
    const last = Math.min(count - 1, Math.ceil((top + view) / rowHeight) + this.overscan);
    const needed = Math.max(0, last - first + 1);
    while (this.pool.length < needed) {
      const row = this.options.createRow();
      row.style.position = 'absolute';
      row.style.left = '0';
      row.style.right = '0';
      this.pool.push(row);
      this.spacer.append(row);
    }
    const unchanged = first === this.first && last === this.last && count === this.renderedCount;
    this.first = first;
    this.last = last;
    this.renderedCount = count;
    if (unchanged) return;
    // Rows beyond what the view needs leave the DOM (after a resize or a shorter list).
    while (this.pool.length > needed) this.pool.pop()!.remove();
    for (let i = 0; i < needed; i++) {
      const row = this.pool[i]!;
      const index = first + i;
      const y = `translateY(${index * rowHeight}px)`;
      if (row.style.transform !== y) row.style.transform = y;
      this.options.renderRow(row, index);
    }
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
  }
}
