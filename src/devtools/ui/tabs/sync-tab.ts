/**
 * The Sync tab: state, server head, confirmed position, how far behind,
 * pending count and this client's pending clientSeq ranges, the last error,
 * the outcomes seen this session and the rejected events.
 */
import { errorText } from '../../errors.ts';
import { formatClock, formatDateTime } from '../../format.ts';
import type { PanelState } from '../../model/state.ts';
import { outcomeDetail, syncErrorText, syncStats } from '../../model/sync.ts';
import { changed, type PanelContext } from '../context.ts';
import { h, setText } from '../dom.ts';
import type { TabDefinition, TabView } from '../tabs.ts';

const ID = 'sync';

function createSyncTab(ctx: PanelContext): TabView {
  const stats = h('dl', { class: 'chr-dt-sync-grid' });
  const outcomeList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Recent outcomes' } });
  const rejectedList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Rejected events' } });
  const syncError = h('p', { class: 'chr-dt-error', attrs: { hidden: true } });

  const loadRejected = async (): Promise<void> => {
    const source = ctx.source();
    try {
      const rejected = await source.rejected();
      if (source !== ctx.source()) return;
      rejectedList.replaceChildren();
      if (rejected.length === 0) rejectedList.append(h('li', { class: 'chr-dt-muted', text: 'None.' }));
      for (const record of rejected.slice(-50).reverse()) {
        rejectedList.append(
          h(
            'li',
            {},
            h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'rejected' }, text: 'rejected' }),
            h('strong', { text: record.event.type }),
            h('code', { text: `${record.event.aggregateId} #${record.event.seq}` }),
            h('span', { text: `${record.code}: ${record.reason}` }),
            h('span', { class: 'chr-dt-muted', text: formatDateTime(record.rejectedAt) }),
          ),
        );
      }
    } catch (error) {
      if (source === ctx.source()) rejectedList.replaceChildren(h('li', { class: 'chr-dt-error', text: errorText(error) }));
    }
  };

  /** The status as the source has it now (events may not have told yet). */
  const refreshStatus = async (): Promise<void> => {
    const { generation } = ctx.state();
    try {
      const status = await ctx.source().syncStatus();
      if (ctx.state().generation === generation) ctx.dispatch({ type: 'syncChanged', status });
    } catch {
      // The summary keeps what it had.
    }
  };

  const render = (state: PanelState) => {
    stats.replaceChildren(
      ...syncStats(state).map((stat) =>
        h(
          'div',
          { class: 'chr-dt-stat' },
          h('dt', { text: stat.label }),
          h('dd', { text: stat.value, attrs: stat.testid ? { 'data-testid': stat.testid } : {} }),
        ),
      ),
    );
    const error = syncErrorText(state);
    syncError.hidden = error === null;
    setText(syncError, error ?? '');
    outcomeList.replaceChildren();
    if (state.outcomes.length === 0) outcomeList.append(h('li', { class: 'chr-dt-muted', text: 'No outcomes yet in this session.' }));
    for (const { at, outcome } of state.outcomes.slice(0, 50)) {
      outcomeList.append(
        h(
          'li',
          { attrs: { 'data-status': outcome.status } },
          h('span', { class: 'chr-dt-badge', attrs: { 'data-status': outcome.status }, text: outcome.status }),
          h('code', { text: outcome.aggregateId }),
          h('span', { text: outcomeDetail(outcome) }),
          h('code', { class: 'chr-dt-muted', text: outcome.id.slice(-12), attrs: { title: outcome.id } }),
          h('span', { class: 'chr-dt-muted', text: formatClock(at) }),
        ),
      );
    }
  };

  return {
    element: h(
      'section',
      { attrs: { 'data-testid': 'devtools-sync', 'aria-label': 'Sync' } },
      stats,
      syncError,
      h(
        'section',
        { class: 'chr-dt-section' },
        h('h3', {}, 'Recent outcomes ', h('small', { text: 'confirmed, rebased and rejected edits of this session' })),
        outcomeList,
      ),
      h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Rejected events' }), rejectedList),
    ),
    update(state, prev) {
      // Rendered only while it shows (it walks the pending events); not per page while the log loads.
      if (state.tab !== ID) return;
      const shown = prev?.tab !== ID;
      if (shown) {
        void ctx.track(loadRejected());
        void ctx.track(refreshStatus());
      } else if (changed(state, prev, (s) => [s.rejections, s.generation])) void ctx.track(loadRejected());
      const loaded = !state.log.loading && changed(state, prev, (s) => [s.log.entries, s.log.loading]);
      if (shown || loaded || changed(state, prev, (s) => [s.sync, s.outcomes, s.info, s.generation])) render(state);
    },
  };
}

export const syncTab: TabDefinition = { id: ID, label: 'Sync', create: createSyncTab };
