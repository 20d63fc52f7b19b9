/**
 * The Reactions tab: each reaction's status (store.reactions.status()) and
 * the events they parked (store.reactions.parked()), with Retry and Skip.
 * Read when the tab shows and again whenever the reactions' bookkeeping
 * changes (store.reactions.subscribe, through the source's events).
 */
import { errorText } from '../../errors.ts';
import { formatDateTime, plural } from '../../format.ts';
import { latestWins } from '../../latest-wins.ts';
import { parkedEventText, reactionFacts, reactionState } from '../../model/reactions.ts';
import type { ParkedView, ReactionsView } from '../../types.ts';
import { changed, type PanelContext } from '../context.ts';
import { h, setText } from '../dom.ts';
import type { TabDefinition, TabView } from '../tabs.ts';

const ID = 'reactions';

function createReactionsTab(ctx: PanelContext): TabView {
  const statusList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Reactions' } });
  const parkedList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Parked events' } });
  const failure = h('p', { class: 'chr-dt-error', attrs: { hidden: true } });
  const showError = (message: string | null) => {
    failure.hidden = message === null;
    setText(failure, message ?? '');
  };

  const act = (what: 'retry' | 'skip', parked: ParkedView, buttons: HTMLButtonElement[]) => {
    const source = ctx.source();
    for (const button of buttons) button.disabled = true;
    const work = (
      what === 'retry' ? source.retryParked(parked.reaction, parked.eventId) : source.skipParked(parked.reaction, parked.eventId)
    ).then(
      () => showError(null),
      (error: unknown) => {
        for (const button of buttons) button.disabled = false;
        showError(`Could not ${what} ${parkedEventText(parked)}: ${errorText(error)}`);
      },
    );
    void ctx.track(work.then(() => load.request(undefined)));
  };

  const parkedRow = (parked: ParkedView) => {
    const retry = h('button', {
      class: 'chr-dt-btn',
      attrs: {
        type: 'button',
        'data-testid': 'devtools-parked-retry',
        'aria-label': `Retry ${parkedEventText(parked)} for ${parked.reaction}`,
      },
      text: parked.retryRequested ? 'Retry asked' : 'Retry',
    });
    const skip = h('button', {
      class: 'chr-dt-btn',
      attrs: {
        type: 'button',
        'data-testid': 'devtools-parked-skip',
        'aria-label': `Skip ${parkedEventText(parked)} for ${parked.reaction}`,
      },
      text: 'Skip',
    });
    retry.disabled = parked.retryRequested;
    retry.addEventListener('click', () => act('retry', parked, [retry, skip]));
    skip.addEventListener('click', () => act('skip', parked, [retry, skip]));
    return h(
      'li',
      { attrs: { 'data-testid': 'devtools-parked-row', 'data-id': parked.eventId, 'data-reaction': parked.reaction } },
      h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'rejected' }, text: 'parked' }),
      h('strong', { text: parked.reaction }),
      h('code', { text: parkedEventText(parked) }),
      h('span', { text: `${plural(parked.attempts, 'attempt')}: ${parked.lastError}` }),
      h('span', { class: 'chr-dt-muted', text: formatDateTime(parked.parkedAt) }),
      h('span', { class: 'chr-dt-parked-actions' }, retry, skip),
    );
  };

  const render = ({ statuses, parked }: ReactionsView) => {
    statusList.replaceChildren();
    if (statuses.length === 0) statusList.append(h('li', { class: 'chr-dt-muted', text: 'This store has no reactions.' }));
    for (const status of statuses) {
      const { state, text } = reactionState(status);
      statusList.append(
        h(
          'li',
          { attrs: { 'data-testid': 'devtools-reaction', 'data-name': status.name, 'data-state': state } },
          h('span', { class: 'chr-dt-badge', attrs: { 'data-status': state }, text }),
          h('strong', { text: status.name }),
          h('span', { class: 'chr-dt-muted', text: reactionFacts(status) }),
        ),
      );
    }
    parkedList.replaceChildren();
    if (parked.length === 0) parkedList.append(h('li', { class: 'chr-dt-muted', text: 'No parked events.' }));
    for (const p of parked) parkedList.append(parkedRow(p));
  };

  const load = latestWins(
    async () => {
      const source = ctx.source();
      try {
        const view = await source.reactions();
        if (load.superseded || source !== ctx.source()) return;
        render(view);
        showError(null);
      } catch (error) {
        if (source === ctx.source()) showError(`Could not read the reactions: ${errorText(error)}`);
      }
    },
    { hold: ctx.unmounted, track: (work) => void ctx.track(work) },
  );

  return {
    element: h(
      'section',
      { attrs: { 'data-testid': 'devtools-reactions', 'aria-label': 'Reactions' } },
      failure,
      h(
        'section',
        { class: 'chr-dt-section' },
        h('h3', {}, 'Reactions ', h('small', { text: 'side effects, run in one tab' })),
        statusList,
      ),
      h(
        'section',
        { class: 'chr-dt-section' },
        h('h3', {}, 'Parked events ', h('small', { text: 'failed too often: retry once fixed, or skip' })),
        parkedList,
      ),
    ),
    update(state, prev) {
      // Read only while it shows; again when a reaction's bookkeeping changes.
      if (state.tab !== ID) return;
      if (prev?.tab !== ID || changed(state, prev, (s) => [s.reactions, s.generation])) load.request(undefined);
    },
  };
}

export const reactionsTab: TabDefinition = { id: ID, label: 'Reactions', create: createReactionsTab };
