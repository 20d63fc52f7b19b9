// The sample windows behind store.metrics(): a fixed ring of the newest
// METRICS_WINDOW samples, percentiles by nearest rank, runs weighted by events.
import { describe, expect, it } from 'vitest';
import { createSampleWindow, METRICS_WINDOW } from '../../src/client/metrics.ts';

/** 1..n in a scrambled order (a fixed stride through them). */
function scrambled(n: number): number[] {
  const out: number[] = [];
  for (let i = 0, k = 0; i < n; i++, k = (k + 37) % n) out.push(k + 1);
  return out;
}

describe('metrics sample window', () => {
  it('is empty until a sample: every figure null', () => {
    const window = createSampleWindow();
    expect(window.latency()).toEqual({ count: 0, window: 0, last: null, mean: null, p50: null, p95: null, p99: null, max: null });
    expect(window.runs()).toMatchObject({ count: 0, events: 0, perEventMs: null });
  });

  it('gives the nearest-rank percentiles, mean, max and the last sample', () => {
    const window = createSampleWindow();
    const values = scrambled(100);
    expect(new Set(values).size).toBe(100);
    for (const value of values) window.record(value);
    expect(window.latency()).toEqual({ count: 100, window: 100, last: values[99], mean: 50.5, p50: 50, p95: 95, p99: 99, max: 100 });
    const one = createSampleWindow();
    one.record(7);
    expect(one.latency()).toMatchObject({ p50: 7, p95: 7, p99: 7, max: 7, mean: 7 });
  });

  it(`keeps only the newest ${METRICS_WINDOW} samples: older ones leave every figure`, () => {
    const window = createSampleWindow();
    // A huge early outlier, then 3,000 ordinary samples: it must be gone from the figures.
    window.record(1e9);
    for (let i = 0; i < 3000; i++) window.record(i);
    const figures = window.latency();
    expect(figures.count).toBe(3001);
    expect(figures.window).toBe(METRICS_WINDOW);
    expect(figures.max).toBe(2999);
    // The window holds 1976..2999.
    const low = 3000 - METRICS_WINDOW;
    expect(figures.mean).toBe((low + 2999) / 2);
    expect(figures.p50).toBe(low + METRICS_WINDOW / 2 - 1);
    expect(figures.last).toBe(2999);
  });

  it('runs: events summed since the start, ms per event over the runs in the window', () => {
    const window = createSampleWindow();
    window.record(10, 5);
    window.record(30, 5);
    expect(window.runs()).toMatchObject({ count: 2, events: 10, perEventMs: 4, last: 30 });
    // A run that handled nothing adds time but no events.
    window.record(20, 0);
    expect(window.runs()).toMatchObject({ count: 3, events: 10, perEventMs: 6 });
    for (let i = 0; i < METRICS_WINDOW; i++) window.record(1, 1);
    expect(window.runs()).toMatchObject({ count: METRICS_WINDOW + 3, window: METRICS_WINDOW, events: 10 + METRICS_WINDOW, perEventMs: 1 });
  });
});
