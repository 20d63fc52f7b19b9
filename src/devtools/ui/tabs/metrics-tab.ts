/**
 * The Metrics tab: store.metrics() while the tab shows, read again every
 * second (one read at a time, the next one a second after the last answer:
 * no loop runs while the tab is hidden). Append, replay and catch-up
 * latencies as a table; sync lag, pending count and age as figures.
 */
import { errorText } from '../../errors.ts';
import { latestWins } from '../../latest-wins.ts';
import { latencyRows, METRIC_COLUMNS, syncMetricStats, windowText } from '../../model/metrics.ts';
import type { StoreMetrics } from '../../types.ts';
import { changed, type PanelContext } from '../context.ts';
import { h, setText } from '../dom.ts';
import type { TabDefinition, TabView } from '../tabs.ts';

const ID = 'metrics';
/** How often the figures are read again while the tab shows. */
export const METRICS_REFRESH_MS = 1000;

function createMetricsTab(ctx: PanelContext): TabView {
  const caption = h('p', { class: 'chr-dt-hint', text: 'Reading the metrics…' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'chr-dt-metrics-table', attrs: { 'aria-label': 'Latencies' } },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { attrs: { scope: 'col' }, text: 'Latency' }),
        ...METRIC_COLUMNS.map((c) => h('th', { attrs: { scope: 'col' }, text: c.label })),
      ),
    ),
    body,
  );
  const syncGrid = h('dl', { class: 'chr-dt-sync-grid' });
  const syncNote = h('p', { class: 'chr-dt-muted', attrs: { hidden: true }, text: 'This store does not sync: no lag or pending figures.' });
  const failure = h('p', { class: 'chr-dt-error', attrs: { hidden: true } });
  const element = h(
    'section',
    { attrs: { 'data-testid': 'devtools-metrics', 'aria-label': 'Metrics' } },
    caption,
    failure,
    h('div', { class: 'chr-dt-table-wrap' }, table),
    h(
      'section',
      { class: 'chr-dt-section' },
      h('h3', {}, 'Sync ', h('small', { text: 'lag behind the server, events waiting to reach it' })),
      syncNote,
      syncGrid,
    ),
  );

  let shown = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const scheduleNext = () => {
    stopTimer();
    if (shown && !ctx.unmounted()) timer = setTimeout(() => read(), METRICS_REFRESH_MS);
  };

  const render = (metrics: StoreMetrics) => {
    element.dataset.takenAt = String(metrics.takenAt);
    caption.textContent = windowText(metrics);
    body.replaceChildren(
      ...latencyRows(metrics).map((row) =>
        h(
          'tr',
          { attrs: { 'data-testid': 'devtools-metrics-row', 'data-figure': row.figure } },
          h('th', { attrs: { scope: 'row', title: row.hint }, text: row.label }),
          ...row.cells.map((cell) => h('td', { attrs: { 'data-stat': cell.stat }, text: cell.value })),
        ),
      ),
    );
    const stats = syncMetricStats(metrics);
    syncNote.hidden = stats !== null;
    syncGrid.hidden = stats === null;
    syncGrid.replaceChildren(
      ...(stats ?? []).map((stat) =>
        h(
          'div',
          { class: 'chr-dt-stat' },
          h('dt', { text: stat.label }),
          h('dd', { text: stat.value, attrs: stat.testid ? { 'data-testid': stat.testid } : {} }),
        ),
      ),
    );
  };

  /** `done` (if any) is called once the request it came with has been answered: idle() waits for a tab just shown. */
  const refresh = latestWins(
    async (done: (() => void) | undefined) => {
      const source = ctx.source();
      try {
        const metrics = await source.metrics();
        if (!refresh.superseded && source === ctx.source() && shown) {
          render(metrics);
          failure.hidden = true;
        }
      } catch (error) {
        if (source === ctx.source()) {
          failure.hidden = false;
          setText(failure, `Could not read the metrics: ${errorText(error)}`);
        }
      } finally {
        done?.();
        if (!refresh.superseded) scheduleNext();
      }
    },
    {
      hold: ctx.unmounted,
      merge: (waiting, next) => () => {
        waiting?.();
        next?.();
      },
      onError: () => undefined,
    },
  );
  const read = (tracked = false) => {
    stopTimer();
    if (!tracked) return refresh.request(undefined);
    void ctx.track(new Promise<void>((resolve) => refresh.request(resolve)));
  };

  return {
    element,
    update(state, prev) {
      const showing = state.tab === ID;
      if (!showing) {
        if (shown) {
          shown = false;
          stopTimer();
        }
        return;
      }
      if (!shown || changed(state, prev, (s) => [s.generation])) {
        shown = true;
        read(true);
      }
    },
    dispose() {
      shown = false;
      stopTimer();
      refresh.drop();
    },
  };
}

export const metricsTab: TabDefinition = { id: ID, label: 'Metrics', create: createMetricsTab };
