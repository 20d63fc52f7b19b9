import { describe, expect, it } from 'vitest';
import { openTestStore, uniqueStoreName, deleteTestDatabase } from '../../src/testing/index.ts';
import { openStore } from '../../src/client/index.ts';
import { ConcurrencyError } from '../../src/core/errors.ts';
import { model } from '../fixtures/model.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

async function streamOf(
  store: { readStream(id: string): AsyncIterable<{ seq: number; id: string; meta: { clientSeq: number } }> },
  id: string,
) {
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
      await deleteTestDatabase(name);
    }
  });
});

describe('a reaction across tabs (one worker each)', () => {
  it('delivers each event exactly once while tabs open, close and take over', async () => {
    const { defineReaction } = await import('../../src/core/reaction.ts');
    const { ItemAdded } = await import('../fixtures/model.ts');
    const deliveries: { id: string; tab: string; redelivery: boolean }[] = [];
    const reactionFor = (tab: string) =>
      defineReaction({
        name: 'charge',
        events: [ItemAdded],
        handlers: {
          ItemAdded: async (event, ctx) => {
            deliveries.push({ id: event.id, tab, redelivery: ctx.redelivery });
            await new Promise((r) => setTimeout(r, 1)); // an effect that takes a moment
          },
        },
      });
    const name = uniqueStoreName('tabs-reaction');
    const open = (tab: string) => openStore({ ...model, name, worker: true, reactions: [reactionFor(tab)] });
    const appended: string[] = [];
    const append = async (tab: Awaited<ReturnType<typeof open>>, label: string, n: number) => {
      for (let i = 0; i < n; i++) appended.push((await tab.append(`order-${label}`, [item(`${label}-${i}`)])).events[0]!.id);
    };
    const caughtUp = async (tab: Awaited<ReturnType<typeof open>>) => {
      for (;;) {
        const [status] = await tab.reactions.status();
        if (status!.caughtUp && deliveries.length >= appended.length) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      const a = await open('a');
      const b = await open('b');
      await Promise.all([append(a, 'a1', 15), append(b, 'b1', 15)]);
      const c = await open('c');
      await append(c, 'c1', 10);
      // The leader closes mid-stream while the others keep appending: the next tab in line takes over.
      await Promise.all([a.close(), append(b, 'b2', 10), append(c, 'c2', 10)]);
      const d = await open('d');
      await Promise.all([b.close(), append(c, 'c3', 10), append(d, 'd1', 10)]);
      await caughtUp(c);
      await c.close();
      await append(d, 'd2', 5);
      await caughtUp(d);
      await d.close();

      expect(new Set(appended).size).toBe(85);
      const perId = new Map<string, number>();
      for (const x of deliveries) perId.set(x.id, (perId.get(x.id) ?? 0) + 1);
      expect([...perId.keys()].sort()).toEqual([...appended].sort());
      expect([...perId.values()].every((n) => n === 1)).toBe(true);
      expect(deliveries.some((x) => x.redelivery)).toBe(false);
      // More than one tab ran it over time, never two at once (each delivered a run of events).
      expect(new Set(deliveries.map((x) => x.tab)).size).toBeGreaterThan(1);
    } finally {
      await deleteTestDatabase(name);
    }
  });
});
