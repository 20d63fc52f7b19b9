/**
 * The filter form: aggregate id (with suggestions), event type, free text,
 * a time range, Clear, and how many events are listed.
 */
import { fromLocalInput } from '../format.ts';
import { countText, hasFilter } from '../model/filter.ts';
import { placeTypes } from '../model/type-options.ts';
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
  /** The event types offered, sorted; how many of the log's types they are; for which source (generation). */
  let typesListed: readonly string[] = [];
  let typesNoted = 0;
  let typesGeneration = -1;
  const typeOptions = new Map<string, HTMLOptionElement>();

  /** Adds the log's new types to the select, each in its sorted place; a new source starts a new list. */
  const listTypes = (eventTypes: readonly string[], generation: number): void => {
    const current = typeSelect.value;
    const fresh = generation !== typesGeneration || eventTypes.length < typesNoted;
    if (fresh) {
      typeSelect.replaceChildren(h('option', { attrs: { value: '' }, text: 'All types' }));
      typeOptions.clear();
      typesListed = [];
      typesNoted = 0;
      typesGeneration = generation;
    }
    const { types, placements } = placeTypes(typesListed, eventTypes.slice(typesNoted));
    for (const { type, before } of placements) {
      const option = h('option', { attrs: { value: type }, text: type });
      typeOptions.set(type, option);
      typeSelect.insertBefore(option, before === null ? null : (typeOptions.get(before) ?? null));
    }
    typesListed = types;
    typesNoted = eventTypes.length;
    if (fresh) typeSelect.value = current;
  };

  return {
    element,
    update(state, prev) {
      if (changed(state, prev, (s) => [s.log.eventTypes])) listTypes(state.log.eventTypes, state.generation);
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
