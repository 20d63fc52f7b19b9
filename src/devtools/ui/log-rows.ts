/**
 * One row of the log grid: what it shows (index, status badge, type,
 * aggregate and seq, time, the what-if tick, where time travel stands) and
 * what a click, a double click or the tick does. Rows are recycled by the
 * virtual grid, so rendering fills an existing row.
 */
import { compareCursor } from '../cursor.ts';
import { formatClock, formatDateTime } from '../format.ts';
import { badge } from '../model/rows.ts';
import type { PanelCore } from './context.ts';
import { h, setAttrs, setText, setTitle } from './dom.ts';

interface RowParts {
  skip: HTMLInputElement;
  index: HTMLElement;
  badge: HTMLElement;
  type: HTMLElement;
  agg: HTMLElement;
  aggId: HTMLElement;
  seq: HTMLElement;
  time: HTMLElement;
}

export interface RowActions {
  /** A click selects the row (without scrolling). */
  select(index: number): void;
  /** A double click travels to it. */
  travelTo(index: number): void;
  setSkip(index: number, skip: boolean): void;
  /** Puts the keyboard back on the grid after a click. */
  focusGrid(): void;
}

export interface LogRows {
  header(): HTMLElement;
  create(): HTMLElement;
  /** Fills a recycled row for the `index`-th listed event. */
  render(row: HTMLElement, index: number): void;
}

function headerRow(): HTMLElement {
  const cell = (cls: string, text: string, label?: string) =>
    h('div', {
      class: `chr-dt-cell ${cls}`,
      attrs: { role: 'columnheader', ...(label ? { 'aria-label': label, title: label } : {}) },
      text,
    });
  return h(
    'div',
    { class: 'chr-dt-head-row', attrs: { role: 'row' } },
    cell('chr-dt-cell-skip', '⊘', 'Leave out (what-if)'),
    cell('chr-dt-cell-index', '#'),
    cell('chr-dt-cell-status', 'Status'),
    cell('chr-dt-cell-type', 'Event'),
    cell('chr-dt-cell-agg', 'Aggregate'),
    cell('chr-dt-cell-time', 'Time'),
  );
}

export function createLogRows(ctx: PanelCore, actions: RowActions): LogRows {
  const rowParts = new WeakMap<HTMLElement, RowParts>();

  const createRow = (): HTMLElement => {
    const skip = h('input', {
      attrs: { type: 'checkbox', tabindex: -1, 'aria-label': 'Leave out in what-if', 'data-testid': 'devtools-skip' },
    });
    const index = h('div', { class: 'chr-dt-cell chr-dt-cell-index', attrs: { role: 'gridcell' } });
    const badgeEl = h('span', { class: 'chr-dt-badge' });
    const type = h('div', { class: 'chr-dt-cell chr-dt-cell-type', attrs: { role: 'gridcell' } });
    const aggId = h('span', { class: 'chr-dt-agg-id' });
    const seq = h('span', { class: 'chr-dt-seq' });
    const agg = h('div', { class: 'chr-dt-cell chr-dt-cell-agg', attrs: { role: 'gridcell' } }, aggId, seq);
    const time = h('div', { class: 'chr-dt-cell chr-dt-cell-time', attrs: { role: 'gridcell' } });
    const row = h(
      'div',
      { class: 'chr-dt-row', attrs: { role: 'row', 'data-testid': 'devtools-row', 'aria-selected': 'false' } },
      h('div', { class: 'chr-dt-cell chr-dt-cell-skip', attrs: { role: 'gridcell' } }, skip),
      index,
      h('div', { class: 'chr-dt-cell chr-dt-cell-status', attrs: { role: 'gridcell' } }, badgeEl),
      type,
      agg,
      time,
    );
    skip.addEventListener('click', (event) => event.stopPropagation());
    skip.addEventListener('change', () => {
      actions.setSkip(Number(row.dataset.index), skip.checked);
      // Keep the keyboard in the grid.
      actions.focusGrid();
    });
    row.addEventListener('click', () => {
      actions.select(Number(row.dataset.index));
      actions.focusGrid();
    });
    row.addEventListener('dblclick', () => actions.travelTo(Number(row.dataset.index)));
    rowParts.set(row, { skip, index, badge: badgeEl, type, agg, aggId, seq, time });
    return row;
  };

  const renderRow = (row: HTMLElement, index: number): void => {
    const state = ctx.state();
    const parts = rowParts.get(row)!;
    const entryIndex = state.filter.shown[index]!;
    const entry = state.log.entries[entryIndex]!;
    const { event } = entry;
    const shown = badge(state, entry);
    const order = state.travel ? compareCursor(entry.cursor, state.travel) : -1;
    const skipped = state.skips.has(event.id);
    row.id = `${ctx.uid}-row-${index}`;
    setAttrs(row, {
      'data-index': index,
      'data-id': event.id,
      'data-status': shown.status,
      'data-travel': order === 0 ? 'here' : order > 0 ? 'future' : null,
      'data-skipped': skipped ? 'true' : null,
      'aria-selected': String(index === state.selection.index),
      'aria-rowindex': index + 2,
    });
    parts.skip.checked = skipped;
    setText(parts.index, String(entryIndex + 1));
    setText(parts.badge, shown.text);
    parts.badge.dataset.status = shown.status;
    setTitle(parts.badge, shown.title);
    const type = event.type;
    setText(parts.type, event.known ? type : `${type} v${event.storedVersion} (unreadable)`);
    setTitle(
      parts.type,
      event.known ? type : `${type} v${event.storedVersion}: a type or version this app does not define; reducers skip it`,
    );
    setText(parts.aggId, event.aggregateId);
    setText(parts.seq, `#${event.seq}`);
    setTitle(parts.agg, `${event.aggregateType} ${event.aggregateId}, seq ${event.seq}`);
    setText(parts.time, formatClock(event.meta.occurredAt));
    setTitle(parts.time, formatDateTime(event.meta.occurredAt));
  };

  return { header: headerRow, create: createRow, render: renderRow };
}
