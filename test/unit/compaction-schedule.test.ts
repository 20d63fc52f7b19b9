/**
 * Background compaction runs for one store of a name at a time. Browsers
 * serialise it with a Web Lock; in Node (no Web Locks) two stores of one name
 * in one process must not compact at once either: the second skips.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Compactor } from '../../src/client/compaction.ts';
import { scheduleCompaction } from '../../src/client/compaction-schedule.ts';
import type { StoreContext } from '../../src/client/context.ts';

const IDLE_MS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A compactor whose runs stay in flight until released, counting how many overlap. */
function heldCompactor(probe: { inFlight: number; most: number; runs: number }): Compactor {
  const compact = async () => {
    probe.runs++;
    probe.inFlight++;
    probe.most = Math.max(probe.most, probe.inFlight);
    await new Promise<void>((resolve) => held.push(resolve));
    probe.inFlight--;
  };
  return { compact } as unknown as Compactor;
}

const contextNamed = (name: string) => ({ name, hub: { watch: () => () => undefined } }) as unknown as StoreContext;

const stops: Array<() => Promise<void>> = [];
const held: Array<() => void> = [];
afterEach(async () => {
  // Release runs still in flight (also when an assertion failed), so the schedules can stop.
  held.splice(0).forEach((release) => release());
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

describe('background compaction without Web Locks', () => {
  it('given two stores of one name in this process, when both go idle, then only one compacts; the other skips', async () => {
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
    const probe = { inFlight: 0, most: 0, runs: 0 };
    const first = scheduleCompaction(contextNamed('till'), heldCompactor(probe), IDLE_MS);
    const second = scheduleCompaction(contextNamed('till'), heldCompactor(probe), IDLE_MS);
    stops.push(
      () => first.stop(),
      () => second.stop(),
    );
    // Once one runs, the other has had its idle moment too (same delay) and more: it skipped.
    await vi.waitFor(() => expect(probe.runs).toBe(1), { timeout: 10_000 });
    await sleep(IDLE_MS * 10);
    expect(probe.runs).toBe(1);
    expect(probe.most).toBe(1);
  });

  it('given stores of different names, when both go idle, then both compact', async () => {
    const probe = { inFlight: 0, most: 0, runs: 0 };
    const till = scheduleCompaction(contextNamed('till-a'), heldCompactor(probe), IDLE_MS);
    const other = scheduleCompaction(contextNamed('till-b'), heldCompactor(probe), IDLE_MS);
    stops.push(
      () => till.stop(),
      () => other.stop(),
    );
    await vi.waitFor(() => expect(probe.runs).toBe(2), { timeout: 10_000 });
  });
});
