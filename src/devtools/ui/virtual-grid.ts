/**
 * A virtualised grid of fixed-height rows: only the rows in view (plus a
 * few either side) exist in the DOM, recycled as the list scrolls, so
 * 100,000 rows cost what 40 do. A list taller than a browser scrolls maps
 * scroll positions proportionally (scroll-scale.ts).
 */
import { h } from './dom.ts';
import { clampOffset, offsetAt, offsetToShow, rowTop, scrollScale, scrollTopFor, type ScrollScale } from './scroll-scale.ts';

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
  /** Scroll position minus real offset the rows were placed for (0 unless scaled). */
  private renderedShift = 0;
  /**
   * The real offset shown at scroll position `at`: kept while the position
   * stays, so a scaled view neither drifts when rows are added (the ratio
   * changes) nor misses a row scrolled to by the browser's rounding of scrollTop.
   */
  private pin: { at: number; offset: number } | undefined;

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
    const scale = this.sizeSpacer(this.options.count());
    const current = this.offsetFor(this.scroller.scrollTop, scale);
    const next = offsetToShow(index, align, this.options.rowHeight, current, this.scroller.clientHeight);
    if (next !== current) {
      this.scroller.scrollTop = scrollTopFor(next, scale);
      // Read back: the browser rounds and clamps the position it was given.
      if (scale.scaled) this.pin = { at: this.scroller.scrollTop, offset: clampOffset(next, scale) };
    }
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

  /** The view's height (before the grid is laid out, that of 20 rows). */
  private viewHeight(): number {
    return this.scroller.clientHeight || this.options.rowHeight * 20;
  }

  /** Sizes the scrolled element for `count` rows (capped: see scroll-scale.ts). */
  private sizeSpacer(count: number): ScrollScale {
    const scale = scrollScale(count, this.options.rowHeight, this.viewHeight());
    if (this.spacer.style.height !== `${scale.height}px`) this.spacer.style.height = `${scale.height}px`;
    return scale;
  }

  /** The real offset shown at scroll position `top` (see `pin`). */
  private offsetFor(top: number, scale: ScrollScale): number {
    const offset = scale.scaled && this.pin?.at === top ? clampOffset(this.pin.offset, scale) : offsetAt(top, scale);
    this.pin = { at: top, offset };
    return offset;
  }

  render(): void {
    const { rowHeight } = this.options;
    const count = this.options.count();
    const scale = this.sizeSpacer(count);
    const view = scale.view;
    const top = this.scroller.scrollTop;
    const offset = this.offsetFor(top, scale);
    const first = Math.max(0, Math.floor(offset / rowHeight) - this.overscan);
    const last = Math.min(count - 1, Math.ceil((offset + view) / rowHeight) + this.overscan);
    const needed = Math.max(0, last - first + 1);
    while (this.pool.length < needed) {
      const row = this.options.createRow();
      row.style.position = 'absolute';
      row.style.left = '0';
      row.style.right = '0';
      this.pool.push(row);
      this.spacer.append(row);
    }
    const shift = top - offset;
    const unchanged = first === this.first && last === this.last && count === this.renderedCount && shift === this.renderedShift;
    this.first = first;
    this.last = last;
    this.renderedCount = count;
    this.renderedShift = shift;
    if (unchanged) return;
    // Rows beyond what the view needs leave the DOM (after a resize or a shorter list).
    while (this.pool.length > needed) this.pool.pop()!.remove();
    for (let i = 0; i < needed; i++) {
      const row = this.pool[i]!;
      const index = first + i;
      const y = `translateY(${rowTop(index, rowHeight, top, offset)}px)`;
      if (row.style.transform !== y) row.style.transform = y;
      this.options.renderRow(row, index);
    }
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
  }
}
