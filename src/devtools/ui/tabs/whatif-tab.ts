/**
 * The What-if tab: the events ticked to leave out (chips to put them back),
 * and the selected aggregate's state without them next to the real one and
 * the difference (store.inspect with `skip`). Nothing is written.
 */
import { errorText } from '../../errors.ts';
import { latestWins } from '../../latest-wins.ts';
import { selectedEntry } from '../../model/selection.ts';
import type { PanelState } from '../../model/state.ts';
import { skipChips, whatIfView } from '../../model/whatif.ts';
import type { InspectResult } from '../../types.ts';
import { changed, type PanelContext } from '../context.ts';
import { h, setText } from '../dom.ts';
import { createPane, fillDiff, fillState, setBusy, showMessage } from '../state-panes.ts';
import type { TabDefinition, TabView } from '../tabs.ts';

const ID = 'whatif';

function createWhatIfTab(ctx: PanelContext): TabView {
  const count = h('span', { class: 'chr-dt-chip', attrs: { hidden: true } });
  const intro = h('p', { class: 'chr-dt-hint' });
  const skipList = h('ul', { class: 'chr-dt-skips', attrs: { 'aria-label': 'Events left out' } });
  const clearSkips = h('button', {
    class: 'chr-dt-btn',
    attrs: { type: 'button', hidden: true, 'data-testid': 'devtools-clear-skips' },
    text: 'Put all back',
    on: { click: () => ctx.dispatch({ type: 'skipsCleared' }) },
  });
  const actual = createPane('devtools-whatif-actual', 'As logged');
  const whatIf = createPane('devtools-whatif-state', 'What-if');
  const diff = createPane('devtools-whatif-diff', 'Difference');
  const panes = [actual, whatIf, diff];
  const result = h(
    'div',
    { attrs: { hidden: true } },
    h('div', { class: 'chr-dt-section chr-dt-states' }, actual.el, whatIf.el),
    h('section', { class: 'chr-dt-section' }, diff.el),
  );

  const compute = latestWins(
    async () => {
      const view = whatIfView(ctx.state());
      setText(intro, view.intro);
      if (!view.query) {
        result.hidden = true;
        return;
      }
      const source = ctx.source();
      setBusy(panes, true);
      let answer: InspectResult;
      try {
        answer = await source.inspect(view.query);
      } catch (error) {
        if (source !== ctx.source() || compute.superseded) return;
        showMessage(panes, errorText(error), 'error');
        result.hidden = false;
        return;
      }
      if (source !== ctx.source() || compute.superseded) return;
      result.hidden = false;
      fillState(actual, answer.base!, source, ctx.track);
      fillState(whatIf, answer.state, source, ctx.track);
      fillDiff(diff, answer.diff!, source, ctx.track, 'Leaving them out changes nothing.');
    },
    { hold: ctx.unmounted, track: (work) => void ctx.track(work) },
  );

  const renderSkips = (skips: PanelState['skips']) => {
    const n = skips.size;
    count.hidden = n === 0;
    count.textContent = String(n);
    clearSkips.hidden = n === 0;
    skipList.replaceChildren(
      ...skipChips(skips).map((chip) =>
        h(
          'li',
          { class: 'chr-dt-skip-chip' },
          h('span', { text: chip.text }),
          h('button', {
            attrs: { type: 'button', 'aria-label': chip.label },
            text: '×',
            on: { click: () => ctx.dispatch({ type: 'skipRemoved', id: chip.id }) },
          }),
        ),
      ),
    );
  };

  return {
    element: h('section', { class: 'chr-dt-section', attrs: { 'data-testid': 'devtools-whatif' } }, intro, skipList, clearSkips, result),
    badge: count,
    update(state, prev) {
      if (changed(state, prev, (s) => [s.skips])) renderSkips(state.skips);
      // Computed only while the tab shows; again when what it depends on moved.
      if (state.tab === ID && changed(state, prev, (s) => [s.tab, s.generation, s.skips, s.travel, selectedEntry(s)]))
        compute.request(undefined);
    },
  };
}

export const whatIfTab: TabDefinition = { id: ID, label: 'What-if', create: createWhatIfTab };
