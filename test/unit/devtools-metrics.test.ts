// The devtools model for the Metrics and Reactions tabs: figures as text, and
// the panel state that tells the Reactions tab to read again. No DOM, no store.
import { describe, expect, it } from 'vitest';
import type { ReactionStatus, StoreMetrics } from '../../src/client/index.ts';
import type { ParkedView } from '../../src/devtools/index.ts';
import { formatAge, formatMs, latencyRows, METRIC_COLUMNS, syncMetricStats, windowText } from '../../src/devtools/model/metrics.ts';
import { parkedEventText, reactionFacts, reactionState } from '../../src/devtools/model/reactions.ts';
import { reduce } from '../../src/devtools/model/reduce.ts';
import { initialState } from '../../src/devtools/model/state.ts';

const none = { count: 0, window: 0, last: null, mean: null, p50: null, p95: null, p99: null, max: null };

function metrics(over: Partial<StoreMetrics> = {}): StoreMetrics {
  return {
    takenAt: Date.UTC(2026, 0, 1, 12, 0, 0),
    append: { count: 3000, window: 1024, last: 1.234, mean: 0.987, p50: 0.9, p95: 2.5, p99: 14.25, max: 250 },
    replay: { ...none, events: 0, perEventMs: null },
    catchUp: { count: 2, window: 2, last: 4, mean: 3, p50: 2, p95: 4, p99: 4, max: 4, events: 6, perEventMs: 1 },
    sync: null,
    ...over,
  };
}

const status = (over: Partial<ReactionStatus> = {}): ReactionStatus => ({
  name: 'charge',
  on: 'local',
  leader: true,
  caughtUp: true,
  confirmedThrough: 0,
  inFlight: null,
  parked: 0,
  updatedAt: 0,
  unreadable: null,
  ...over,
});

describe('devtools model: metrics', () => {
  it('writes latencies with the precision they need, and ages and lags in the unit that reads best', () => {
    expect([formatMs(null), formatMs(0.4219), formatMs(3.14159), formatMs(250.4), formatMs(1250)]).toEqual([
      '—',
      '0.42 ms',
      '3.1 ms',
      '250 ms',
      '1.3 s',
    ]);
    expect([formatAge(null), formatAge(850), formatAge(12_345), formatAge(245_000), formatAge(7_380_000), formatAge(273_600_000)]).toEqual([
      '—',
      '850 ms',
      '12.3 s',
      '4 min 5 s',
      '2 h 3 min',
      '3 d 4 h',
    ]);
  });

  it('gives one table row per figure, every column filled; counts and per-event figures only where they exist', () => {
    const rows = latencyRows(metrics());
    expect(rows.map((r) => r.figure)).toEqual(['append', 'replay', 'catchUp']);
    for (const row of rows) expect(row.cells.map((c) => c.stat)).toEqual(METRIC_COLUMNS.map((c) => c.stat));
    const cells = (figure: string) => Object.fromEntries(rows.find((r) => r.figure === figure)!.cells.map((c) => [c.stat, c.value]));
    expect(cells('append')).toEqual({
      count: '3,000',
      last: '1.2 ms',
      mean: '0.99 ms',
      p50: '0.90 ms',
      p95: '2.5 ms',
      p99: '14.3 ms',
      max: '250 ms',
      events: '—',
      perEvent: '—',
    });
    expect(cells('replay')).toMatchObject({ count: '0', last: '—', p99: '—', events: '0', perEvent: '—' });
    expect(cells('catchUp')).toMatchObject({ count: '2', events: '6', perEvent: '1.0 ms' });
    expect(windowText(metrics())).toContain('newest 1,024 of 3,000 appends');
    expect(windowText(metrics({ append: none }))).toContain('No appends timed yet');
  });

  it('shows sync figures only for a store that syncs: lag in events and time, pending and the oldest pending age', () => {
    expect(syncMetricStats(metrics())).toBeNull();
    const stats = syncMetricStats(
      metrics({
        sync: {
          state: 'offline',
          serverHead: 12,
          confirmedPosition: 9,
          lagEvents: 3,
          lagMs: 65_000,
          caughtUpAt: 1,
          pending: 4,
          oldestPendingAt: 2,
          oldestPendingAgeMs: 90_500,
        },
      }),
    )!;
    const byId = Object.fromEntries(stats.filter((s) => s.testid).map((s) => [s.testid, s.value]));
    expect(byId).toEqual({
      'devtools-metrics-sync-state': 'offline',
      'devtools-metrics-lag-events': '3',
      'devtools-metrics-lag-ms': '1 min 5 s',
      'devtools-metrics-pending': '4',
      'devtools-metrics-oldest-pending': '1 min 30 s',
    });
    const never = syncMetricStats(
      metrics({
        sync: {
          state: 'offline',
          serverHead: 0,
          confirmedPosition: 0,
          lagEvents: 0,
          lagMs: null,
          caughtUpAt: null,
          pending: 0,
          oldestPendingAt: null,
          oldestPendingAgeMs: null,
        },
      }),
    )!;
    expect(never.find((s) => s.testid === 'devtools-metrics-lag-ms')!.value).toBe('never caught up');
    expect(never.find((s) => s.testid === 'devtools-metrics-oldest-pending')!.value).toBe('none');
  });
});

describe('devtools model: reactions', () => {
  it('given a reaction change, when it is heard, then the reactions revision moves (and starts over with a new source)', () => {
    const start = reduce(initialState(), { type: 'attached', scratch: null });
    const changed = reduce(reduce(start, { type: 'reactionsChanged' }), { type: 'reactionsChanged' });
    expect(changed.reactions).toBe(start.reactions + 2);
    expect(reduce(changed, { type: 'attached', scratch: null }).reactions).toBe(0);
  });

  it('says where a reaction stands: caught up, catching up, or retrying with its last error', () => {
    expect(reactionState(status())).toEqual({ state: 'caught-up', text: 'caught up' });
    expect(reactionState(status({ caughtUp: false }))).toEqual({ state: 'working', text: 'catching up' });
    expect(reactionState(status({ caughtUp: false, inFlight: { eventId: 'e', attempts: 2, lastError: 'declined' } }))).toEqual({
      state: 'failing',
      text: 'retrying (attempt 3): declined',
    });
    // This tab stopped before a newer app version's event: that is what the row says, whatever else holds.
    expect(
      reactionState(status({ leader: false, caughtUp: false, unreadable: { eventId: 'e9', type: 'ItemAdded', storedVersion: 3 } })),
    ).toEqual({ state: 'waiting', text: 'waits for a newer app version (ItemAdded v3 is unreadable here)' });
    expect(reactionFacts(status({ parked: 2 }))).toBe('runs in this tab · on local events · 2 parked');
    expect(reactionFacts(status({ leader: false, on: 'confirmed', confirmedThrough: 1200 }))).toBe(
      'runs in another tab (or none) · on confirmed events · through position 1,200 · 0 parked',
    );
    const parked: ParkedView = {
      reaction: 'charge',
      eventId: 'e1',
      type: 'ItemAdded',
      aggregateId: 'o1',
      seq: 3,
      attempts: 5,
      lastError: 'x',
      parkedAt: 0,
      retryRequested: false,
    };
    expect(parkedEventText(parked)).toBe('ItemAdded o1 #3');
  });
});
