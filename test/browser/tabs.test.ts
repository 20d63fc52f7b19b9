import { describe, expect, it } from 'vitest';
import { openTestStore, uniqueStoreName, deleteStore } from '../../src/testing/index.ts';
import { openStore } from '../../src/client/index.ts';
import { ConcurrencyError } from '../../src/core/errors.ts';
import { model } from '../fixtures/model.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

async function streamOf(store: { readStream(id: string): AsyncIterable<{ seq: number; id: string; meta: { clientSeq: number } }> }, id: string) {
  const out: { seq: number; id: string; clientSeq: number }[] = [];
  for await (const e of store.readStream(id)) out.push({ seq: e.seq, id: e.id, clientSeq: e.meta.clientSeq });
  return out;
}

describe('several tabs (one worker each) on one database', () => {
  it('two workers appending to the same aggregate at once end with gapless, unique seqs and no lost event', async () => {
    const tabA = await openTestStore({ ...model, worker: true });
    const tabB = await openTestStore({ ...model, worker: true, name: tabA.name });
    try {
      expect(tabA.inWorker && tabB.inWorker).toBe(true);
      const ids: string[] = [];
      const writer = async (tab: typeof tabA, label: string) => {
        for (let i = 0; i < 150; i++) {
          const result = await tab.append('shared', [item(`${label}${i}`)]);
          ids.push(result.events[0]!.id);
        }
      };
      // Optimistic writers too: they read the version, then append with it, retrying on conflict.
      const optimistic = async (tab: typeof tabA, label: string) => {
        for (let i = 0; i < 25; i++) {
          for (;;) {
            const version = (await streamOf(tab, 'shared')).length;
            try {
              const result = await tab.append('shared', [item(`${label}${i}`)], { expectedVersion: version });
              ids.push(result.events[0]!.id);
              break;
            } catch (error) {
              if (!(error instanceof ConcurrencyError)) throw error;
            }
          }
        }
      };
      await Promise.all([writer(tabA, 'a'), writer(tabB, 'b'), optimistic(tabA, 'oa'), optimistic(tabB, 'ob')]);
      const stream = await streamOf(tabA, 'shared');
      expect(stream.map((e) => e.seq)).toEqual(Array.from({ length: 350 }, (_, i) => i + 1));
      expect(new Set(stream.map((e) => e.id))).toEqual(new Set(ids));
      expect(new Set(stream.map((e) => e.clientSeq)).size).toBe(350);
      expect(Math.max(...stream.map((e) => e.clientSeq))).toBe(350);
    } finally {
      await tabB.close();
      await tabA.dispose();
    }
  });

  it('a worker terminated in the middle of a large append leaves all of it or none of it', async () => {
    const name = uniqueStoreName('crash');
    const outcomes: string[] = [];
    const big = Array.from({ length: 30_000 }, (_, i) => item(`bulk-${i}-${'p'.repeat(60)}`));
    try {
      let expectedHead = 0;
      for (const delay of [0, 30, 80, 160, 320, 640]) {
        let spawned: Worker | undefined;
        const store = await openStore({
          ...model,
          name,
          worker: () => (spawned = new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module' })),
        });
        const pending = store.append('big', big).then(
          () => 'committed',
          () => 'failed',
        );
        await new Promise((r) => setTimeout(r, delay));
        spawned!.terminate();
        const reported = await Promise.race([pending, new Promise((r) => setTimeout(() => r('no answer'), 200))]);
        const reopened = await openStore({ ...model, name, worker: true });
        const stream = await streamOf(reopened, 'big');
        const added = stream.length - expectedHead;
        expect([0, big.length]).toContain(added);
        expect(stream.map((e) => e.seq)).toEqual(Array.from({ length: stream.length }, (_, i) => i + 1));
        if (reported === 'committed') expect(added).toBe(big.length);
        outcomes.push(`${delay}ms: ${added === 0 ? 'none' : 'all'} (${String(reported)})`);
        expectedHead = stream.length;
        // The store is usable after the crash: the next append continues the stream.
        const next = await reopened.append('big', [item('after-crash')]);
        expect(next.events[0]!.seq).toBe(expectedHead + 1);
        expectedHead++;
        await reopened.close();
      }
      console.info(`crash outcomes: ${outcomes.join('; ')}`);
    } finally {
      await deleteStore(name);
    }
  });
});
