/** The status line: what the last export or import did, or why reading failed. */
import { changed, type View } from './context.ts';
import { h, setText } from './dom.ts';

export interface NoticeView extends View {
  readonly element: HTMLElement;
}

export function createNotice(): NoticeView {
  const element = h('div', {
    class: 'chr-dt-status',
    attrs: { role: 'status', 'aria-live': 'polite', hidden: true, 'data-testid': 'devtools-status' },
  });
  return {
    element,
    update(state, prev) {
      if (!changed(state, prev, (s) => [s.notice])) return;
      const { notice } = state;
      element.hidden = notice === null;
      if (!notice) return;
      element.dataset.kind = notice.kind;
      element.setAttribute('role', notice.kind === 'error' ? 'alert' : 'status');
      setText(element, notice.message);
    },
  };
}
