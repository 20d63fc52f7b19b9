/**
 * The log grid: the listed events as virtualised rows (status badge, type,
 * aggregate, time, a what-if tick), and the keyboard on it: ↑ ↓ Page Up/Down
 * Home End move the selection, Enter selects, Space ticks, `t` travels,
 * Escape resumes.
 */
import { compareCursor } from '../cursor.ts';
import { formatClock, formatDateTime } from '../format.ts';
import { emptyText } from '../model/log.ts';
import { badge } from '../model/rows.ts';
import { keyTarget } from '../model/selection.ts';
import type { PanelState } from '../model/state.ts';
import { changed, type PanelContext, type View } from './context.ts';
import { h, setAttrs, setText } from './dom.ts';
import { ROW_HEIGHT } from './styles.ts';
import { VirtualGrid } from './virtual-grid.ts';

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

export interface LogGridView extends View {
  readonly element: HTMLElement;
  /** Brings the `index`-th listed row into view. */
  scrollTo(index: number): void;
  /** Puts the keyboard back on the grid. */
  focus(): void;
}

function headerRow(): HTMLElement {
  const cell = (cls: string, text: string, label?: string) =>
    h('div', { class: `chr-dt-cell ${cls}`, attrs: { role: 'columnheader', ...(label ? { 'aria-label': label, title: label } : {}) }, text });
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

export function createLogGrid(ctx: PanelContext): LogGridView {
  const { commands } = ctx;
  const rowParts = new WeakMap<HTMLElement, RowParts>();

  const createRow = (): HTMLElement => {
    const skip = h('input', { attrs: { type: 'checkbox', tabindex: -1, 'aria-label': 'Leave out in what-if', 'data-testid': 'devtools-skip' } });
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
      commands.setSkip(Number(row.dataset.index), skip.checked);
      // Keep the keyboard in the grid.
      grid.element.focus({ preventScroll: true });
    });
    row.addEventListener('click', () => {
      commands.select(Number(row.dataset.index), { scroll: false });
      grid.element.focus({ preventScroll: true });
    });
    row.addEventListener('dblclick', () => commands.travelTo(Number(row.dataset.index)));
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
    parts.badge.title = shown.title;
    setText(parts.type, event.known ? event.type : `${event.type} (unknown)`);
    parts.type.title = event.type;
    setText(parts.aggId, event.aggregateId);
    setText(parts.seq, `#${event.seq}`);
    parts.agg.title = `${event.aggregateType} ${event.aggregateId}, seq ${event.seq}`;
    setText(parts.time, formatClock(event.meta.occurredAt));
    parts.time.title = formatDateTime(event.meta.occurredAt);
  };

  const grid: VirtualGrid = new VirtualGrid({
    rowHeight: ROW_HEIGHT,
    label: 'Event log',
    header: headerRow(),
    count: () => ctx.state().filter.shown.length,
    createRow,
    renderRow,
  });

  const updateActiveDescendant = () => {
    const { index } = ctx.state().selection;
    const row = index >= 0 ? grid.rowElement(index) : undefined;
    if (row?.id) grid.element.setAttribute('aria-activedescendant', row.id);
    else grid.element.removeAttribute('aria-activedescendant');
  };

  const onKey = (event: KeyboardEvent): void => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const state = ctx.state();
    const count = state.filter.shown.length;
    if (count === 0) return;
    const at = state.selection.index;
    switch (event.key) {
      case ' ':
        if (at >= 0) commands.setSkip(at, !state.skips.has(state.selection.id ?? ''));
        event.preventDefault();
        return;
      case 't':
      case 'T':
        if (at >= 0) commands.travelTo(at);
        event.preventDefault();
        return;
      case 'Escape':
        if (state.travel) {
          commands.resume();
          event.preventDefault();
        }
        return;
    }
    const target = keyTarget(event.key, at, count, grid.pageSize());
    if (target === undefined) return;
    event.preventDefault();
    commands.select(target, { again: event.key === 'Enter' });
  };

  grid.element.addEventListener('keydown', onKey);
  grid.element.addEventListener('focus', () => {
    // Keyboard focus lands on a row; a click selects the row clicked.
    const state = ctx.state();
    if (state.selection.index < 0 && state.filter.shown.length > 0 && grid.element.matches(':focus-visible')) commands.select(0);
    updateActiveDescendant();
  });

  const empty = h('div', { class: 'chr-dt-empty', attrs: { hidden: true } });
  const element = h('section', { class: 'chr-dt-log', attrs: { 'aria-label': 'Log' } }, grid.element, empty);

  return {
    element,
    scrollTo: (index) => grid.scrollToIndex(index),
    focus: () => grid.element.focus({ preventScroll: true }),
    update(state: PanelState, prev: PanelState | null) {
      const { shown } = state.filter;
      if (changed(state, prev, (s) => [s.filter.shown, s.log.entries, s.selection, s.travel, s.skips, s.rebased, s.sync?.state])) {
        // New rows at the end while the view is at the bottom: keep following the end.
        const appended = prev !== null && !prev.filter.running && !state.filter.running && shown.length > prev.filter.shown.length && prev.filter.run === state.filter.run;
        const follow = appended && !state.log.loading && grid.isAtBottom();
        grid.refresh();
        if (follow) grid.scrollToIndex(shown.length - 1, 'end');
        grid.element.setAttribute('aria-rowcount', String(shown.length + 1));
        updateActiveDescendant();
      }
      const text = emptyText(state);
      empty.hidden = text === null;
      if (text !== null) empty.textContent = text;
    },
    dispose() {
      grid.destroy();
    },
  };
}
