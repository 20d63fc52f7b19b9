// Deferred indexing (worker/idle-indexer.ts) runs when the engine is quiet,
// and still makes progress when it never is.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createIdleIndexer, INDEX_IDLE_MS, INDEX_MAX_WAIT_MS } from '../../worker/idle-indexer.ts';

describe('the idle indexer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** A step that reports `left` units of work remaining, one fewer each time. */
  function stepsOf(left: number) {
    const step = vi.fn(async () => --left);
    return step;
  }

  it('given a quiet engine, runs once the idle time has passed and goes on until nothing is left', async () => {
    const step = stepsOf(3);
    const indexer = createIdleIndexer(step);
    indexer.schedule();
    await vi.advanceTimersByTimeAsync(INDEX_IDLE_MS - 50);
    expect(step).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(step).toHaveBeenCalledTimes(3);
    indexer.stop();
  });

  it('given an engine busy without pause, still takes one step per INDEX_MAX_WAIT_MS', async () => {
    const step = stepsOf(10);
    const indexer = createIdleIndexer(step);
    indexer.schedule();
    const busy = setInterval(() => indexer.busy(), 50);
    await vi.advanceTimersByTimeAsync(INDEX_MAX_WAIT_MS - 100);
    expect(step).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(INDEX_IDLE_MS + 100);
    expect(step).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(INDEX_MAX_WAIT_MS);
    expect(step).toHaveBeenCalledTimes(2);
    clearInterval(busy);
    indexer.stop();
  });

  it('given work announced while a step runs, then no second step starts beside it, and one follows it', async () => {
    let release: (() => void) | undefined;
    let inFlight = 0;
    let most = 0;
    const step = vi.fn(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      if (step.mock.calls.length === 1) await new Promise<void>((resolve) => (release = resolve));
      inFlight--;
      return 0;
    });
    const indexer = createIdleIndexer(step);
    indexer.schedule();
    await vi.advanceTimersByTimeAsync(INDEX_IDLE_MS + 10);
    expect(step).toHaveBeenCalledTimes(1);
    indexer.schedule(); // an append left more work while the first step is still running
    await vi.advanceTimersByTimeAsync(INDEX_MAX_WAIT_MS * 2);
    expect(step).toHaveBeenCalledTimes(1);
    release!();
    await vi.advanceTimersByTimeAsync(INDEX_IDLE_MS + 10);
    expect(step).toHaveBeenCalledTimes(2);
    expect(most).toBe(1);
    indexer.stop();
  });

  it('given stop, runs no further step', async () => {
    const step = stepsOf(5);
    const indexer = createIdleIndexer(step);
    indexer.schedule();
    indexer.stop();
    await vi.advanceTimersByTimeAsync(INDEX_MAX_WAIT_MS * 2);
    expect(step).not.toHaveBeenCalled();
  });
});
