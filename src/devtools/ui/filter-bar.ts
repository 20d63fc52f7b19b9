/**
 * The filter form: aggregate id (with suggestions), event type, free text,
 * a time range, Clear, and how many events are listed.
 */
import { fromLocalInput } from '../format.ts';
import { countText, hasFilter } from '../model/filter.ts';
import { changed, type PanelContext, type View } from './context.ts';
import { h, setText } from './dom.ts';

export interface FilterBarView extends View {
  readonly element: HTMLElement;
}

export function createFilterBar(ctx: PanelContext): FilterBarView {
  const listId = `${ctx.uid}-aggregates`;
  const aggregateList = h('datalist', { attrs: { id: listId } });
  const field = (label: string, control: HTMLElement, wide = false) =>
    h('label', { class: `chr-dt-field${wide ? ' chr-dt-field-wide' : ''}` }, h('span', { text: label }), control);
  const aggregateInput = h('input', {
    attrs: {
      type: 'search',
      list: listId,
      placeholder: 'any',
      'data-testid': 'devtools-filter-aggregate',
      autocomplete: 'off',
      spellcheck: 'false',
    },
  });
  const typeSelect = h(
    'select',
    { attrs: { 'data-testid': 'devtools-filter-type' } },
    h('option', { attrs: { value: '' }, text: 'All types' }),
  );
  const textInput = h('input', {
    attrs: { type: 'search', placeholder: 'ids, data, meta…', 'data-testid': 'devtools-filter-text', spellcheck: 'false' },
  });
  const fromInput = h('input', { attrs: { type: 'datetime-local', step: 1, 'data-testid': 'devtools-filter-from' } });
  const toInput = h('input', { attrs: { type: 'datetime-local', step: 1, 'data-testid': 'devtools-filter-to' } });
  const clearFilters = h('button', { class: 'chr-dt-btn', attrs: { type: 'button', disabled: true }, text: 'Clear' });
  const count = h('span', { class: 'chr-dt-count', attrs: { 'aria-live': 'polite', 'data-testid': 'devtools-count' } });
  const element = h(
    'form',
    { class: 'chr-dt-filters', attrs: { role: 'search', 'aria-label': 'Filter events' } },
    field('Aggregate', aggregateInput),
    field('Event type', typeSelect),
    field('Search', textInput, true),
    field('From', fromInput),
    field('To', toInput),
    h('div', { class: 'chr-dt-filter-end' }, clearFilters, count),
    aggregateList,
  );
  element.addEventListener('submit', (event) => event.preventDefault());

  const onFilter = () =>
    ctx.commands.setFilter({
      aggregate: aggregateInput.value.trim(),
      type: typeSelect.value,
      text: textInput.value.trim(),
      from: fromLocalInput(fromInput.value),
      to: fromLocalInput(toInput.value),
    });
  for (const control of [aggregateInput, textInput, fromInput, toInput]) control.addEventListener('input', onFilter);
  typeSelect.addEventListener('change', onFilter);
  clearFilters.addEventListener('click', () => {
    aggregateInput.value = textInput.value = fromInput.value = toInput.value = '';
    typeSelect.value = '';
    onFilter();
  });

  /** Aggregate ids already offered. */
  let listed = 0;

  return {
    element,
    update(state, prev) {
      if (changed(state, prev, (s) => [s.log.eventTypes])) {
        const current = typeSelect.value;
        const types = [...state.log.eventTypes].sort();
        typeSelect.replaceChildren(
          h('option', { attrs: { value: '' }, text: 'All types' }),
          ...types.map((type) => h('option', { attrs: { value: type }, text: type })),
        );
        typeSelect.value = current;
      }
      if (changed(state, prev, (s) => [s.log.aggregateSample])) {
        const sample = state.log.aggregateSample;
        // A new source starts a new list.
        if (sample.length < listed) {
          aggregateList.replaceChildren();
          listed = 0;
        }
        for (; listed < sample.length; listed++) aggregateList.append(h('option', { attrs: { value: sample[listed]! } }));
      }
      if (changed(state, prev, (s) => [s.filter.filter])) clearFilters.disabled = !hasFilter(state.filter.filter);
      if (changed(state, prev, (s) => [s.filter.filter, s.filter.shown, s.log.entries])) setText(count, countText(state));
    },
  };
}
