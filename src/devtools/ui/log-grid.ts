/**
 * The log grid: the listed events as virtualised rows (log-rows.ts), and the
 * keyboard on it: ↑ ↓ Page Up/Down Home End move the selection, Enter
 * selects, Space ticks, `t` travels, Escape resumes.
 */
import { rowsAppended } from '../model/filter.ts';
import { emptyText } from '../model/log.ts';
import { keyTarget } from '../model/selection.ts';
import type { PanelState } from '../model/state.ts';
import { changed, type PanelContext, type View } from './context.ts';
import { h, setText } from './dom.ts';
import { createLogRows } from './log-rows.ts';
import { ROW_HEIGHT } from './styles.ts';
import { VirtualGrid } from './virtual-grid.ts';

export interface LogGridView extends View {
  readonly element: HTMLElement;
  /** Brings the `index`-th listed row into view. */
  scrollTo(index: number): void;
  /** Puts the keyboard back on the grid. */
  focus(): void;
}

export function createLogGrid(ctx: PanelContext): LogGridView {
  const { commands } = ctx;
  const rows = createLogRows(ctx, {
    select: (index) => commands.select(index, { scroll: false }),
    travelTo: (index) => commands.travelTo(index),
    setSkip: (index, skip) => commands.setSkip(index, skip),
    focusGrid: () => grid.element.focus({ preventScroll: true }),
  });

  const grid: VirtualGrid = new VirtualGrid({
    rowHeight: ROW_HEIGHT,
    label: 'Event log',
    header: rows.header(),
    count: () => ctx.state().filter.shown.length,
    createRow: rows.create,
    renderRow: rows.render,
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
        const appended = prev !== null && rowsAppended(prev.filter, state.filter);
        const follow = appended && !state.log.loading && grid.isAtBottom();
        grid.refresh();
        if (follow) grid.scrollToIndex(shown.length - 1, 'end');
        grid.element.setAttribute('aria-rowcount', String(shown.length + 1));
        updateActiveDescendant();
      }
      const text = emptyText(state);
      empty.hidden = text === null;
      if (text !== null) setText(empty, text);
    },
    dispose() {
      grid.destroy();
    },
  };
}
