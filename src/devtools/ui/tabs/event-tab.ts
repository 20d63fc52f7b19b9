/**
 * The Event tab: the selected event's facts, data and meta, the state of its
 * aggregate before and after it (store.inspect with `until` = the event,
 * with and without it), and the difference.
 */
import { sameCursor } from '../../cursor.ts';
import { createEncoder } from '../../encode.ts';
import { errorCode, errorText } from '../../errors.ts';
import { latestWins } from '../../latest-wins.ts';
import { badge, eventFacts } from '../../model/rows.ts';
import { selectedEntry } from '../../model/selection.ts';
import type { PanelState } from '../../model/state.ts';
import type { DevtoolsEntry, InspectResult } from '../../types.ts';
import { changed, type PanelContext } from '../context.ts';
import { append, h } from '../dom.ts';
import { createPane, fillDiff, fillState, setBusy, showMessage } from '../state-panes.ts';
import type { TabDefinition, TabView } from '../tabs.ts';
import { renderTree } from '../tree-view.ts';

function createEventTab(ctx: PanelContext): TabView {
  const hint = h('p', {
    class: 'chr-dt-hint',
    text: 'Select an event to see its data and meta, the state of its aggregate before and after it, and what changed.',
  });
  const title = h('div', { class: 'chr-dt-event-title' });
  const facts = h('dl', { class: 'chr-dt-facts' });
  const dataBody = h('div', { attrs: { 'data-testid': 'devtools-event-data' } });
  const metaBody = h('div', { attrs: { 'data-testid': 'devtools-event-meta' } });
  const diffPane = createPane('devtools-diff', 'What changed');
  const beforePane = createPane('devtools-state-before', 'State before');
  const afterPane = createPane('devtools-state-after', 'State after');
  const panes = [beforePane, afterPane, diffPane];
  const detail = h(
    'div',
    { attrs: { hidden: true } },
    title,
    facts,
    h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Data' }), dataBody),
    h('section', { class: 'chr-dt-section' }, diffPane.el),
    h('div', { class: 'chr-dt-section chr-dt-states' }, beforePane.el, afterPane.el),
    h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Meta' }), metaBody),
  );
  /** Data and meta are encoded here, in the panel (the event is already here). */
  const encoder = createEncoder();

  const inspect = latestWins(
    async (entry: DevtoolsEntry) => {
      const source = ctx.source();
      const { event, cursor } = entry;
      let result: InspectResult | undefined;
      let failure: unknown;
      try {
        result = await source.inspect({
          aggregateType: event.aggregateType,
          aggregateId: event.aggregateId,
          until: cursor,
          // The state before: every event of the aggregate up to this one, but this one.
          compareTo: { until: cursor, skip: [event.id] },
        });
      } catch (error) {
        failure = error;
      }
      // A newer selection (or another source) makes this answer stale.
      if (inspect.superseded || source !== ctx.source() || ctx.state().selection.id !== event.id) return;
      if (!result) {
        const noAggregate = errorCode(failure) === 'NO_AGGREGATE';
        const message = noAggregate
          ? `No definition of the ${event.aggregateType} aggregate was given to the devtools: pass it in { aggregates: [...] } to see states.`
          : `Could not compute the state: ${errorText(failure)}`;
        showMessage(panes, message, noAggregate ? 'hint' : 'error');
        return;
      }
      fillState(beforePane, { ...result.base!, version: event.seq - 1 }, source, ctx.track);
      fillState(afterPane, result.state, source, ctx.track);
      fillDiff(
        diffPane,
        result.diff!,
        source,
        ctx.track,
        event.known
          ? 'This event left the state as it was.'
          : `This app cannot read ${event.type} v${event.storedVersion} (a type it does not define, or a newer version of one): reducers skip it.`,
      );
    },
    { hold: ctx.unmounted, track: (work) => void ctx.track(work) },
  );

  const renderTitle = (state: PanelState, entry: DevtoolsEntry) => {
    const { event } = entry;
    const { status } = badge(state, entry);
    title.replaceChildren();
    append(
      title,
      h('span', { text: event.type }),
      h('span', { class: 'chr-dt-badge', attrs: { 'data-status': status }, text: status }),
      event.known
        ? null
        : h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'rejected' }, text: `unreadable v${event.storedVersion}` }),
      state.travel && sameCursor(state.travel, entry.cursor)
        ? h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'travel' }, text: 'time travel here' })
        : null,
    );
  };

  const showDetail = (state: PanelState) => {
    const entry = selectedEntry(state);
    hint.hidden = entry !== undefined;
    detail.hidden = entry === undefined;
    if (!entry) return;
    renderTitle(state, entry);
    facts.replaceChildren();
    for (const [label, value] of eventFacts(entry, state.filter.shown[state.selection.index]!, badge(state, entry).status)) {
      append(facts, h('dt', { text: label }), h('dd', { text: value }));
    }
    const expand = async (ref: string, offset?: number) => encoder.expand(ref, offset);
    dataBody.replaceChildren(renderTree(encoder.encode(entry.event.data, 400), { expand, openDepth: 2 }));
    metaBody.replaceChildren(renderTree(encoder.encode(entry.event.meta, 400), { expand, openDepth: 1 }));
    setBusy(panes, true);
    inspect.request(entry);
  };

  return {
    element: h('div', {}, hint, detail),
    update(state, prev) {
      if (changed(state, prev, (s) => [s.generation])) encoder.clear();
      if (changed(state, prev, (s) => [s.generation, s.selection.id, s.selection.rev])) showDetail(state);
      else if (!detail.hidden && changed(state, prev, (s) => [s.travel, s.rebased, s.sync])) {
        const entry = selectedEntry(state);
        if (entry) renderTitle(state, entry);
      }
    },
    dispose() {
      encoder.clear();
    },
  };
}

export const eventTab: TabDefinition = { id: 'event', label: 'Event', create: createEventTab };
