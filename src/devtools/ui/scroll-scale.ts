/**
 * Where a virtual list's rows are for a scroll position, when the list is
 * taller than a browser scrolls: Chromium caps an element's height at
 * 33,554,432 px (about 1.2M rows of 28 px), so rows past it could not be
 * scrolled to. Past MAX_SCROLL_HEIGHT the scrolled element stays that tall,
 * and a scroll position stands for the same fraction of the real list.
 * Pure (no DOM), so the mapping is tested on its own.
 */

/** The tallest scrolled element used: well below Chromium's cap, and Firefox's (about 17.9M px). */
export const MAX_SCROLL_HEIGHT = 15_000_000;

export interface ScrollScale {
  /** The real list's height: rows × row height. */
  readonly total: number;
  /** The height given to the scrolled element: the total, or the cap. */
  readonly height: number;
  /** The view's height. */
  readonly view: number;
  /** The total was capped: scroll positions map proportionally. */
  readonly scaled: boolean;
  /** Real pixels per scrolled pixel (1 when not scaled). */
  readonly ratio: number;
}

export function scrollScale(count: number, rowHeight: number, view: number, max = MAX_SCROLL_HEIGHT): ScrollScale {
  const total = count * rowHeight;
  const height = Math.min(total, max);
  const realRange = Math.max(0, total - view);
  const scrollRange = Math.max(0, height - view);
  // A view as tall as the capped element has nothing to scroll: nothing to map.
  const scaled = total > height && scrollRange > 0;
  return { total, height, view, scaled, ratio: scaled ? realRange / scrollRange : 1 };
}

/** The furthest real offset: the last row at the bottom of the view. */
export function maxOffset(scale: ScrollScale): number {
  return Math.max(0, scale.total - scale.view);
}

export function clampOffset(offset: number, scale: ScrollScale): number {
  return Math.min(Math.max(0, offset), maxOffset(scale));
}

/** The real offset (the list's pixel at the top of the view) at scroll position `scrollTop`. */
export function offsetAt(scrollTop: number, scale: ScrollScale): number {
  // Not scaled: the identity, as the browser clamps it (the view may not be measured yet).
  if (!scale.scaled) return scrollTop;
  return clampOffset(scrollTop * scale.ratio, scale);
}

/** The scroll position that puts real offset `offset` at the top of the view. */
export function scrollTopFor(offset: number, scale: ScrollScale): number {
  if (!scale.scaled) return Math.max(0, offset);
  return clampOffset(offset, scale) / scale.ratio;
}

/** Where row `index` goes in the scrolled element, for the view at `scrollTop` showing real offset `offset`. */
export function rowTop(index: number, rowHeight: number, scrollTop: number, offset: number): number {
  return index * rowHeight - offset + scrollTop;
}

/**
 * The real offset that brings row `index` into a view at real offset
 * `current`: at its top ('start'), its bottom ('end'), or the least movement
 * that does it ('nearest').
 */
export function offsetToShow(index: number, align: 'nearest' | 'start' | 'end', rowHeight: number, current: number, view: number): number {
  const top = index * rowHeight;
  let next = current;
  if (align === 'start') next = top;
  else if (align === 'end') next = top + rowHeight - view;
  else if (top < current) next = top;
  else if (top + rowHeight > current + view) next = top + rowHeight - view;
  return Math.max(0, next);
}
