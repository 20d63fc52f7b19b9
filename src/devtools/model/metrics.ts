/** The metrics view: store.metrics() as table rows and figures (no DOM: unit-tested in Node). */
import { formatClock, formatCount } from '../format.ts';
import type { LatencyMetrics, RunMetrics, StoreMetrics } from '../types.ts';
import type { Stat } from './sync.ts';

/** The table's columns: what each latency row shows, in order. */
export const METRIC_COLUMNS = [
  { stat: 'count', label: 'Count' },
  { stat: 'last', label: 'Last' },
  { stat: 'mean', label: 'Mean' },
  { stat: 'p50', label: 'p50' },
  { stat: 'p95', label: 'p95' },
  { stat: 'p99', label: 'p99' },
  { stat: 'max', label: 'Max' },
  { stat: 'events', label: 'Events' },
  { stat: 'perEvent', label: 'Per event' },
] as const;

export type MetricStat = (typeof METRIC_COLUMNS)[number]['stat'];

export interface MetricsRow {
  figure: 'append' | 'replay' | 'catchUp';
  label: string;
  /** What one sample is. */
  hint: string;
  cells: { stat: MetricStat; value: string }[];
}

/** A latency: 0.42 ms, 3.1 ms, 250 ms, 1.25 s. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return formatAge(ms);
}

/** An age or a lag: 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min, 3 d 4 h. */
export function formatAge(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.floor(s);
  const [d, h, m] = [Math.floor(whole / 86_400), Math.floor((whole % 86_400) / 3600), Math.floor((whole % 3600) / 60)];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${whole % 60} s`;
}

function row(figure: MetricsRow['figure'], label: string, hint: string, figures: LatencyMetrics, runs?: RunMetrics): MetricsRow {
  const values: Record<MetricStat, string> = {
    count: formatCount(figures.count),
    last: formatMs(figures.last),
    mean: formatMs(figures.mean),
    p50: formatMs(figures.p50),
    p95: formatMs(figures.p95),
    p99: formatMs(figures.p99),
    max: formatMs(figures.max),
    events: runs ? formatCount(runs.events) : '—',
    perEvent: runs ? formatMs(runs.perEventMs) : '—',
  };
  return { figure, label, hint, cells: METRIC_COLUMNS.map(({ stat }) => ({ stat, value: values[stat] })) };
}

export function latencyRows(metrics: StoreMetrics): MetricsRow[] {
  return [
    row('append', 'Append', 'one append() or appendBatch() call, from the call to the committed reply', metrics.append),
    row('replay', 'Replay', 'one replay job or projection rebuild, start to result', metrics.replay, metrics.replay),
    row('catchUp', 'Projection catch-up', 'one catch-up that applied events', metrics.catchUp, metrics.catchUp),
  ];
}

/** How many samples the figures cover: "newest 1,024 of 3,000 appends". */
export function windowText(metrics: StoreMetrics): string {
  const { append } = metrics;
  const taken = `taken ${formatClock(metrics.takenAt)}`;
  if (append.count === 0) return `No appends timed yet · ${taken}`;
  const of =
    append.count > append.window ? `newest ${formatCount(append.window)} of ${formatCount(append.count)}` : formatCount(append.count);
  return `Percentiles over ${of} appends (the newest 1,024 samples of each figure) · ${taken}`;
}

/** The sync figures, or null when the store does not sync. */
export function syncMetricStats(metrics: StoreMetrics): Stat[] | null {
  const sync = metrics.sync;
  if (!sync) return null;
  return [
    { label: 'State', value: sync.state, testid: 'devtools-metrics-sync-state' },
    { label: 'Behind (events)', value: formatCount(sync.lagEvents), testid: 'devtools-metrics-lag-events' },
    { label: 'Behind (time)', value: sync.lagMs === null ? 'never caught up' : formatAge(sync.lagMs), testid: 'devtools-metrics-lag-ms' },
    { label: 'Server head', value: formatCount(sync.serverHead) },
    { label: 'Pulled through', value: formatCount(sync.confirmedPosition) },
    { label: 'Pending', value: formatCount(sync.pending), testid: 'devtools-metrics-pending' },
    {
      label: 'Oldest pending',
      value: sync.oldestPendingAgeMs === null ? 'none' : formatAge(sync.oldestPendingAgeMs),
      testid: 'devtools-metrics-oldest-pending',
    },
    { label: 'Last caught up', value: sync.caughtUpAt === null ? '—' : formatClock(sync.caughtUpAt) },
  ];
}
