/** The progress bar while the log loads. */
import { progressView } from '../model/log.ts';
import { changed, type View } from './context.ts';
import { h, setText } from './dom.ts';

export interface ProgressBarView extends View {
  readonly element: HTMLElement;
}

export function createProgress(): ProgressBarView {
  const bar = h('progress', { attrs: { max: 1, value: 0, 'aria-label': 'Loading the log' } });
  const text = h('span', { text: 'Loading…' });
  const element = h('div', { class: 'chr-dt-progress', attrs: { 'data-testid': 'devtools-progress' } }, bar, text);
  return {
    element,
    update(state, prev) {
      if (!changed(state, prev, (s) => [s.log.loading, s.log.entries, s.log.expected])) return;
      element.hidden = !state.log.loading;
      if (!state.log.loading) return;
      const view = progressView(state);
      bar.max = view.expected;
      bar.value = view.loaded;
      setText(text, view.text);
    },
  };
}
