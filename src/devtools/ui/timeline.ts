/**
 * Time travel controls: the slider over the listed events, first / previous /
 * next / last, the position, Resume, and the banner that says the app shows
 * the past.
 */
import { timelineView } from '../model/travel.ts';
import { changed, type PanelContext, type View } from './context.ts';
import { h, icon, ICONS, setAttrs, setText } from './dom.ts';

export interface TimelineViewParts extends View {
  /** The controls' row. */
  readonly element: HTMLElement;
  /** The banner, shown under the header while travelling. */
  readonly banner: HTMLElement;
}

export function createTimeline(ctx: PanelContext): TimelineViewParts {
  const { commands } = ctx;
  const step = (testid: string, label: string, path: string, action: () => void) =>
    h(
      'button',
      {
        class: 'chr-dt-btn chr-dt-icon-btn',
        attrs: { type: 'button', 'data-testid': testid, 'aria-label': label, title: label },
        on: { click: action },
      },
      icon(path),
    );
  const first = step('devtools-first', 'First event', ICONS.first, () => commands.step('first'));
  const prev = step('devtools-prev', 'Previous event', ICONS.prev, () => commands.step('prev'));
  const next = step('devtools-next', 'Next event', ICONS.next, () => commands.step('next'));
  const last = step('devtools-last', 'Last event', ICONS.last, () => commands.step('last'));
  const slider = h('input', {
    class: 'chr-dt-slider',
    attrs: {
      type: 'range',
      min: 1,
      max: 1,
      step: 1,
      value: 1,
      'data-testid': 'devtools-slider',
      'aria-label': 'Time travel: position in the log',
    },
  });
  slider.addEventListener('input', () => commands.travelTo(Number(slider.value) - 1));
  const position = h('output', { class: 'chr-dt-position', attrs: { 'data-testid': 'devtools-position', 'aria-live': 'polite' } });
  const resume = h(
    'button',
    {
      class: 'chr-dt-btn chr-dt-btn-primary',
      attrs: { type: 'button', 'data-testid': 'devtools-resume', title: 'Back to the head: the app follows the log again' },
      on: { click: () => commands.resume() },
    },
    icon(ICONS.resume),
    'Resume',
  );
  const element = h(
    'div',
    { class: 'chr-dt-timeline', attrs: { role: 'group', 'aria-label': 'Time travel' } },
    h('div', { class: 'chr-dt-steps' }, first, prev),
    slider,
    h('div', { class: 'chr-dt-steps' }, next, last),
    position,
    resume,
  );
  const bannerText = h('span');
  const banner = h(
    'div',
    { class: 'chr-dt-banner', attrs: { hidden: true, role: 'status', 'data-testid': 'devtools-banner' } },
    bannerText,
  );

  return {
    element,
    banner,
    update(state, prevState) {
      if (!changed(state, prevState, (s) => [s.filter.shown, s.log.entries, s.travel, s.scratch])) return;
      const view = timelineView(state);
      slider.max = String(view.sliderMax);
      slider.value = String(view.sliderValue);
      slider.disabled = view.disabled.slider;
      first.disabled = view.disabled.first;
      prev.disabled = view.disabled.prev;
      next.disabled = view.disabled.next;
      last.disabled = view.disabled.last;
      resume.disabled = view.disabled.resume;
      setText(position, view.text);
      setAttrs(slider, { 'aria-valuetext': view.text });
      banner.hidden = view.banner === null;
      if (view.banner !== null) setText(bannerText, view.banner);
    },
  };
}
