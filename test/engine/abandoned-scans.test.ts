// Iterators an app starts and leaves unfinished (a `scan()` advanced by hand, then forgotten) keep their scans
// open in the engine's worker, which drops the oldest past 64. A scan still in use that was dropped went on
// failing with a plain Error ("log scan N is not open"); it now goes on from where it stood, every event once.
import { describe, expect, it } from 'vitest';
import { MAX_OPEN_SCANS } from '../../worker/scan-sessions.ts';
import { modes, openOrderStore } from './modes.ts';

describe.each(modes)('log scans an app leaves unfinished ($mode)', ({ worker }) => {
  it('a scan pushed out by newer ones still reads every event once, in order', async () => {
    const store = await openOrderStore(worker);
    try {
      // Enough events of a few KB that one scan step does not reach the end.
      const total = 400;
      await store.appendBatch(
        Array.from({ length: total }, (_, i) => ({
          aggregateId: `o${i}`,
          events: [{ type: 'OrderPlaced' as const, data: { customerId: `c${i}-${'x'.repeat(2000)}` } }],
        })),
      );
      const first = store.scan(undefined, { batchEvents: 1 })[Symbol.asyncIterator]();
      const seen: string[] = [];
      const firstBatch = await first.next();
      for (const entry of firstBatch.value ?? []) seen.push(entry.event.aggregateId);
      // More unfinished scans than the engine keeps: each advanced once, then left.
      const others = Array.from({ length: MAX_OPEN_SCANS + 2 }, () => store.scan(undefined, { batchEvents: 1 })[Symbol.asyncIterator]());
      for (const other of others) await other.next();
      for (let step = await first.next(); !step.done; step = await first.next()) {
        for (const entry of step.value) seen.push(entry.event.aggregateId);
      }
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => `o${i}`));
      await Promise.all(others.map((other) => other.return?.()));
    } finally {
      await store.dispose();
    }
  });
});
