// The cache behind chronicle/react's hooks: one source per store and key,
// shared while components listen, and never kept for a render React threw
// away (no listener ever came).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSource, createSourceCache, type Sharing, type Source } from '../../src/react/shared-source.ts';

/** A source whose subscriptions to "the store" are counted. */
function countingSource(sharing: Sharing, counts: { started: number; stopped: number }): Source<number> {
  return createSource(
    0,
    () => {
      counts.started++;
      return () => void counts.stopped++;
    },
    () => -1,
    sharing,
  );
}

describe('createSourceCache', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('forgets a source nobody subscribed to (a render that never committed) after the wait, and only then', () => {
    const cache = createSourceCache<object>(1_000);
    const store = {};
    const counts = { started: 0, stopped: 0 };
    for (let i = 0; i < 100; i++) cache.source(store, `order-${i}`, (sharing) => countingSource(sharing, counts));
    expect(cache.size(store)).toBe(100);
    vi.advanceTimersByTime(999);
    expect(cache.size(store)).toBe(100);
    vi.advanceTimersByTime(1);
    expect(cache.size(store)).toBe(0);
    expect(counts.started).toBe(0);
  });

  it('keeps a subscribed source past the wait, shares it, and forgets it when its last listener leaves', async () => {
    const cache = createSourceCache<object>(1_000);
    const store = {};
    const counts = { started: 0, stopped: 0 };
    const make = (sharing: Sharing) => countingSource(sharing, counts);
    const first = cache.source(store, 'o1', make);
    const stop = first.subscribe(() => undefined);
    vi.advanceTimersByTime(5_000);
    expect(cache.size(store)).toBe(1);
    // A second component asking later gets the same source: one subscription to the store.
    const second = cache.source(store, 'o1', make);
    expect(second).toBe(first);
    const stopSecond = second.subscribe(() => undefined);
    expect(counts.started).toBe(1);
    stop();
    expect(cache.size(store)).toBe(1);
    stopSecond();
    await Promise.resolve(); // released a microtask later (see the StrictMode test below)
    expect(cache.size(store)).toBe(0);
    expect(counts.stopped).toBe(1);
  });

  it('a source forgotten before its render committed still works when subscribed, and is shared again', async () => {
    const cache = createSourceCache<object>(1_000);
    const store = {};
    const counts = { started: 0, stopped: 0 };
    const make = (sharing: Sharing) => countingSource(sharing, counts);
    const late = cache.source(store, 'o1', make);
    vi.advanceTimersByTime(1_000);
    expect(cache.size(store)).toBe(0);
    let heard = 0;
    const stop = late.subscribe(() => heard++);
    expect(counts.started).toBe(1);
    expect(cache.size(store)).toBe(1);
    expect(cache.source(store, 'o1', make)).toBe(late);
    stop();
    await Promise.resolve();
    expect(cache.size(store)).toBe(0);
    expect(heard).toBe(0);
  });

  it('keeps the store subscription when the last listener leaves and one comes back in the same task (StrictMode, a hand-off)', async () => {
    const cache = createSourceCache<object>(1_000);
    const store = {};
    const counts = { started: 0, stopped: 0 };
    const make = (sharing: Sharing) => countingSource(sharing, counts);
    const source = cache.source(store, 'o1', make);
    // StrictMode in development: subscribe, unsubscribe, subscribe again, all in one commit.
    source.subscribe(() => undefined)();
    const stop = source.subscribe(() => undefined);
    // A commit that unmounts one view of 'o1' and mounts another.
    stop();
    const stopOther = cache.source(store, 'o1', make).subscribe(() => undefined);
    await Promise.resolve();
    expect(counts).toEqual({ started: 1, stopped: 0 });
    expect(cache.size(store)).toBe(1);
    stopOther();
    expect(counts.stopped).toBe(0); // not yet: a listener may still come back in this task
    await Promise.resolve();
    expect(counts).toEqual({ started: 1, stopped: 1 });
    expect(cache.size(store)).toBe(0);
    // A mount after the release starts afresh.
    cache.source(store, 'o1', make).subscribe(() => undefined);
    expect(counts.started).toBe(2);
  });

  it('keeps each store’s sources apart', () => {
    const cache = createSourceCache<object>(1_000);
    const a = {};
    const b = {};
    const counts = { started: 0, stopped: 0 };
    const make = (sharing: Sharing) => countingSource(sharing, counts);
    expect(cache.source(a, 'o1', make)).not.toBe(cache.source(b, 'o1', make));
    expect(cache.size(a)).toBe(1);
    expect(cache.size(b)).toBe(1);
  });
});
