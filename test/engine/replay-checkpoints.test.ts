// Issue 9, point 3: replay jobs checkpoint every `checkpointEvery` handled
// events; a clean stop (abort, close) resumes exactly after the last event
// handled; a crash delivers at most `checkpointEvery` events again, flagged.
import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/core/errors.ts';
import type { ReplayContext, ReplayProgress } from '../../src/client/types.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { jobLockName, stealHeldHere } from '../../src/client/exclusive.ts';
import { modes, openOrderStore } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const shipped = { type: 'OrderShipped' as const, data: { carrier: 'dhl' } };

/** 116 ItemAdded events among 300 events in all, spread over a few streams and appends. */
async function seeded(worker: Parameters<typeof openOrderStore>[0]) {
  const store = await openOrderStore(worker);
  let matching = 0;
  for (let round = 0; round < 10; round++) {
    const entries = [0, 1, 2].map((a) => ({
      aggregateId: `o${a}`,
      events: Array.from({ length: 10 }, (_, i) =>
        matching < 116 && (i + round + a) % 5 < 2 ? (matching++, item(`s${round}-${a}-${i}`)) : shipped,
      ),
    }));
    await store.appendBatch(entries);
  }
  return { store, matching };
}

const counts = (ids: string[]) => {
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
};

describe.each(modes)('replay job checkpoints ($mode)', ({ worker }) => {
  it('a job closed after 30 of its matching events resumes at the 31st: each event handled exactly once, progress reaches the total', async () => {
    const { store, matching } = await seeded(worker);
    expect(matching).toBe(116);
    const handled: string[] = [];
    const reopened = await openTestStore({ ...model, worker, name: store.name });
    try {
      const controller = new AbortController();
      const first = await store
        .replay({
          name: 'mail-receipts',
          filter: { types: ['ItemAdded'] },
          signal: controller.signal,
          handler(event) {
            handled.push(event.id);
            if (handled.length === 30) controller.abort();
          },
        })
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(AbortedError);
      await store.close();
      const progress: ReplayProgress[] = [];
      const flags: boolean[] = [];
      const second = await reopened.replay({
        name: 'mail-receipts',
        filter: { types: ['ItemAdded'] },
        handler(event, ctx) {
          handled.push(event.id);
          flags.push(ctx.redelivery);
        },
        onProgress: (p) => progress.push(p),
      });
      expect(second.resumed).toBe(true);
      expect(handled).toHaveLength(116);
      expect(new Set(handled).size).toBe(116);
      expect(flags.every((f) => f === false)).toBe(true);
      expect(second).toMatchObject({ processed: 116, scanned: 300, total: 300 });
      expect(progress.at(-1)).toEqual({ processed: 116, scanned: 300, total: 300 });
    } finally {
      await reopened.dispose();
    }
  });

  it('after a crash, at most checkpointEvery events are delivered again, each flagged redelivery', async () => {
    const { store } = await seeded(worker);
    const deliveries: { id: string; redelivery: boolean }[] = [];
    try {
      for (const crashAt of [7, 23, 45]) {
        // A tab that freezes for good in the middle of its handler: what it handled is never recorded further.
        const doomed = await openTestStore({ ...model, worker, name: store.name });
        let calls = 0;
        const frozen = doomed.replay({
          name: 'webhooks',
          checkpointEvery: 10,
          handler(event, ctx) {
            deliveries.push({ id: event.id, redelivery: ctx.redelivery });
            if (++calls === crashAt) return new Promise<void>(() => undefined);
          },
        });
        void frozen.catch(() => undefined);
        await vi_waitFor(() => calls === crashAt);
        await releaseCrashedTabsLock(store.name, 'webhooks');
        // Reopened (another tab, or the reload after the crash): the job resumes.
        const before = deliveries.length;
        const seen = new Set(deliveries.slice(0, before).map((d) => d.id));
        const next = await openTestStore({ ...model, worker, name: store.name });
        let resumedCalls = 0;
        await next
          .replay({
            name: 'webhooks',
            checkpointEvery: 10,
            handler(event, ctx) {
              deliveries.push({ id: event.id, redelivery: ctx.redelivery });
              if (++resumedCalls === 25) throw new Error('stop here');
            },
          })
          .catch(() => undefined);
        const again = deliveries.slice(before).filter((d) => seen.has(d.id));
        expect(again.length).toBeLessThanOrEqual(10);
        expect(again.length).toBeGreaterThan(0);
        expect(again.every((d) => d.redelivery)).toBe(true);
        // The events after the crash point are new: not flagged once the redelivered ones are through.
        const fresh = deliveries.slice(before).filter((d) => !seen.has(d.id));
        expect(fresh.filter((d) => d.redelivery).length).toBeLessThanOrEqual(10 - again.length);
        await next.close();
      }
      const final = await openTestStore({ ...model, worker, name: store.name });
      const result = await final.replay({
        name: 'webhooks',
        checkpointEvery: 10,
        handler: (event, ctx) => void deliveries.push({ id: event.id, redelivery: ctx.redelivery }),
      });
      expect(result).toMatchObject({ processed: 300, scanned: 300, total: 300 });
      await final.close();
      const perId = counts(deliveries.map((d) => d.id));
      expect(perId.size).toBe(300);
      // Three crashes (each may repeat up to 10 events) and two clean stops (repeat nothing).
      const extra = [...perId.values()].reduce((n, c) => n + c - 1, 0);
      expect(extra).toBeLessThanOrEqual(30);
      for (const c of perId.values()) expect(c).toBeLessThanOrEqual(2);
    } finally {
      await store.dispose();
    }
  });

  it('a resumed run that crashes before its first checkpoint: what it handled comes again flagged, under its own checkpointEvery', async () => {
    const { store } = await seeded(worker);
    try {
      // A clean stop after 50 events: the job's record says so (a rerun flags nothing). It checkpointed every
      // 10 events; the run that resumes it checkpoints every 1000, so a crash may repeat up to 1000.
      let first = 0;
      await store
        .replay({
          name: 'charges',
          checkpointEvery: 10,
          handler() {
            if (++first === 51) throw new Error('stop here');
          },
        })
        .catch(() => undefined);
      // Another tab resumes it, handles 40 events, and freezes for good in the 40th (no checkpoint yet).
      const doomed = await openTestStore({ ...model, worker, name: store.name });
      const handledByDoomed: string[] = [];
      const frozen = doomed.replay({
        name: 'charges',
        checkpointEvery: 1000,
        handler(event) {
          handledByDoomed.push(event.id);
          if (handledByDoomed.length === 40) return new Promise<void>(() => undefined);
        },
      });
      void frozen.catch(() => undefined);
      await vi_waitFor(() => handledByDoomed.length === 40);
      await releaseCrashedTabsLock(store.name, 'charges');
      // The next run meets those 40 again: every one must come flagged as a redelivery.
      const next = await openTestStore({ ...model, worker, name: store.name });
      const again: { id: string; redelivery: boolean }[] = [];
      await next.replay({
        name: 'charges',
        checkpointEvery: 1000,
        handler: (event, ctx) => void again.push({ id: event.id, redelivery: ctx.redelivery }),
      });
      await next.close();
      const repeated = again.filter((d) => handledByDoomed.includes(d.id));
      expect(repeated.map((d) => d.id)).toEqual(handledByDoomed);
      expect(repeated.every((d) => d.redelivery)).toBe(true);
    } finally {
      await store.dispose();
    }
  });

  it('what a crash left unrecorded stays flagged through a later run that crashes with a smaller interval, or stops cleanly', async () => {
    const { store } = await seeded(worker);
    try {
      for (const second of ['crashes', 'stops'] as const) {
        const name = `charges-${second}`;
        const seen = new Map<string, { count: number; unflaggedRepeats: number }>();
        const hand = (id: string, redelivery: boolean) => {
          const entry = seen.get(id) ?? { count: 0, unflaggedRepeats: 0 };
          if (entry.count > 0 && !redelivery) entry.unflaggedRepeats++;
          entry.count++;
          seen.set(id, entry);
        };
        // Run 1 (a checkpoint every 1000) freezes on its 60th event: none of the 60 is recorded.
        const one = await openTestStore({ ...model, worker, name: store.name });
        let handled = 0;
        void one
          .replay({
            name,
            checkpointEvery: 1000,
            handler(event, ctx) {
              hand(event.id, ctx.redelivery);
              if (++handled === 60) return new Promise<void>(() => undefined);
            },
          })
          .catch(() => undefined);
        await vi_waitFor(() => handled === 60);
        await releaseCrashedTabsLock(store.name, name);
        // Run 2 resumes with a checkpoint every 10 and, after 15 events, freezes too or stops cleanly.
        const two = await openTestStore({ ...model, worker, name: store.name });
        handled = 0;
        const running = two.replay({
          name,
          checkpointEvery: 10,
          handler(event, ctx) {
            hand(event.id, ctx.redelivery);
            if (++handled < 15) return;
            if (second === 'crashes') return new Promise<void>(() => undefined);
            throw new Error('stop here');
          },
        });
        running.catch(() => undefined);
        await vi_waitFor(() => handled === 15);
        if (second === 'crashes') await releaseCrashedTabsLock(store.name, name);
        else await running.catch(() => undefined);
        // Run 3 finishes: every event run 1 or 2 handled that comes again is flagged as a redelivery.
        const three = await openTestStore({ ...model, worker, name: store.name });
        await three.replay({ name, checkpointEvery: 10, handler: (event, ctx) => hand(event.id, ctx.redelivery) });
        await three.close();
        expect(seen.size, second).toBe(300); // every event of the log, handled
        expect(
          [...seen.values()].filter((entry) => entry.unflaggedRepeats > 0),
          second,
        ).toEqual([]);
      }
    } finally {
      await store.dispose();
    }
  });

  it('checkpointEvery is configurable and saves between scan batches; it must be a positive integer', async () => {
    const { store } = await seeded(worker);
    try {
      await expect(store.replay({ name: 'x', checkpointEvery: 0, handler: () => undefined })).rejects.toMatchObject({ code: 'CONFIG' });
      const contexts: ReplayContext[] = [];
      const controller = new AbortController();
      await store
        .replay({
          name: 'every-5',
          checkpointEvery: 5,
          signal: controller.signal,
          handler(_event, ctx) {
            contexts.push(ctx);
            if (contexts.length === 12) controller.abort();
          },
        })
        .catch(() => undefined);
      const rest: number[] = [];
      const result = await store.replay({ name: 'every-5', checkpointEvery: 5, handler: (_e, ctx) => void rest.push(ctx.cursor.index) });
      expect(result.processed).toBe(300);
      expect(rest).toHaveLength(288);
    } finally {
      await store.dispose();
    }
  });
});

async function vi_waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A crashed tab's Web Locks go with it. The frozen store of these tests stays
 * open, so its job's lock is taken from it, as the browser would release it
 * (where there are no Web Locks, jobs of other stores hold none).
 */
async function releaseCrashedTabsLock(storeName: string, job: string): Promise<void> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (locks) await locks.request(jobLockName(storeName, job), { steal: true }, () => undefined);
  else stealHeldHere(jobLockName(storeName, job));
}
