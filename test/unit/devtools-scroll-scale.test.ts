// The devtools grid's scroll mapping: a list taller than a browser scrolls keeps every row reachable.
import { describe, expect, it } from 'vitest';
import {
  MAX_SCROLL_HEIGHT,
  maxOffset,
  offsetAt,
  offsetToShow,
  rowTop,
  scrollScale,
  scrollTopFor,
} from '../../src/devtools/ui/scroll-scale.ts';

const ROW = 28;
const VIEW = 380;

describe('devtools scroll scale', () => {
  it('maps one to one while the list fits under the cap', () => {
    const scale = scrollScale(1000, ROW, VIEW);
    expect(scale).toMatchObject({ total: 28_000, height: 28_000, scaled: false, ratio: 1 });
    expect(offsetAt(1234, scale)).toBe(1234);
    expect(scrollTopFor(1234, scale)).toBe(1234);
    expect(rowTop(10, ROW, 1234, offsetAt(1234, scale))).toBe(280);
  });

  it('caps the scrolled height of 2M rows and maps its ends to the list ends', () => {
    const count = 2_000_000;
    const scale = scrollScale(count, ROW, VIEW);
    expect(scale.total).toBe(56_000_000);
    expect(scale.height).toBe(MAX_SCROLL_HEIGHT);
    expect(scale.scaled).toBe(true);
    const bottom = scale.height - VIEW;
    expect(offsetAt(0, scale)).toBe(0);
    expect(offsetAt(bottom, scale)).toBe(maxOffset(scale));
    // The last row sits at the bottom of the view, inside the scrolled element.
    const lastTop = rowTop(count - 1, ROW, bottom, offsetAt(bottom, scale));
    expect(lastTop).toBe(bottom + VIEW - ROW);
    expect(lastTop + ROW).toBeLessThanOrEqual(scale.height);
  });

  it('maps a scroll position and back, proportionally', () => {
    const scale = scrollScale(2_000_000, ROW, VIEW);
    const half = (scale.height - VIEW) / 2;
    expect(offsetAt(half, scale)).toBeCloseTo(maxOffset(scale) / 2, 3);
    expect(scrollTopFor(offsetAt(half, scale), scale)).toBeCloseTo(half, 6);
    expect(scrollTopFor(maxOffset(scale) + 10_000, scale)).toBeCloseTo(scale.height - VIEW, 6);
    expect(scrollTopFor(-5, scale)).toBe(0);
  });

  it('does not scale when the view is as tall as the capped list', () => {
    expect(scrollScale(10, ROW, 1000, 200).scaled).toBe(false);
  });

  it('finds the offset that brings a row into view', () => {
    expect(offsetToShow(100, 'start', ROW, 0, VIEW)).toBe(2800);
    expect(offsetToShow(100, 'end', ROW, 0, VIEW)).toBe(2800 + ROW - VIEW);
    // Already in view: no movement.
    expect(offsetToShow(5, 'nearest', ROW, 0, VIEW)).toBe(0);
    expect(offsetToShow(0, 'nearest', ROW, 2800, VIEW)).toBe(0);
    expect(offsetToShow(100, 'nearest', ROW, 0, VIEW)).toBe(2800 + ROW - VIEW);
    expect(offsetToShow(0, 'end', ROW, 0, VIEW)).toBe(0);
  });
});
