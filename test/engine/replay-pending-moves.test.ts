import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * A named replay job over pending events while the sync moves them: a
 * confirmation takes them out of the pending area (they land in the confirmed
 * one, behind any place in the pending area), and a partly confirmed page is
 * written again with fewer events. The job must still hand each event over
 * once, across a clean stop and within one run. (test/sync/replay-across-sync
 * does the same through a real server, with a rebase.)
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const skuOf = (event: { data: unknown }) => (event.data as { sku: string }).sku;

type Store = Awaited<ReturnType<typeof openOrderStore>>;

/** What a sync pull does when the server confirms this client's first `count` pending events: same ids, with positions. */
async function confirmPending(store: Store, count = Infinity): Promise<void> {
  const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
  const pending = stored.filter((e) => e.position === undefined);
  const head = stored.length - pending.length;
  await store.importConfirmed(pending.slice(0, count).map((e, i) => ({ ...e, position: head + i + 1 })));
}

/** Runs the job until it has handled `stopAfter` events, then stops it with its signal. */
async function runAndStop(store: Store, name: string, stopAfter: number, handled: string[]): Promise<void> {
  const controller = new AbortController();
  const result = await store
    .replay({
      name,
      signal: controller.signal,
      handler(event) {
        handled.push(skuOf(event));
        if (handled.length === stopAfter) controller.abort();
      },
    })
    .catch((error: unknown) => error);
  expect(result).toBeInstanceOf(AbortedError);
}

/** Rewrites a stored job record as `edit` says, with the store closed (an older version's record). */
async function editJobRecord(name: string, job: string, edit: (record: Record<string, unknown>) => void): Promise<void> {
  const done = <T>(request: IDBRequest<T>) =>
    new Promise<T>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  const db = await done(indexedDB.open(name));
  try {
    const jobs = db.transaction('jobs', 'readwrite').objectStore('jobs');
    const record = (await done(jobs.get(job))) as Record<string, unknown>;
    edit(record);
    await done(jobs.put(record, job));
  } finally {
    db.close();
  }
}

describe.each(modes)('replay jobs over pending events the sync moves ($mode)', ({ worker }) => {
  it('a checkpoint an older version left on a pending event: after a sync, the rerun hands every event over, repeats flagged', async () => {
    const name = uniqueStoreName();
    let store = await openTestStore({ ...model, worker, name });
    try {
      for (const sku of ['a', 'b', 'c', 'd']) await store.append(`o-${sku}`, [item(sku)]);
      const places = new Map<string, unknown>();
      await store.replay({ handler: (event, ctx) => void places.set(skuOf(event), ctx.cursor) });
      await runAndStop(store, 'old', 2, []);
      await store.close();
      // As the older version stored it: its place on the last event handled (pending b), no ids.
      await editJobRecord(name, 'old', (record) => {
        record.cursor = places.get('b');
        delete record.handledPending;
      });
      store = await openTestStore({ ...model, worker, name });
      await confirmPending(store);
      const handed: { sku: string; redelivery: boolean }[] = [];
      await store.replay({ name: 'old', handler: (event, ctx) => void handed.push({ sku: skuOf(event), redelivery: ctx.redelivery }) });
      // Where b's place is now cannot be told: nothing is skipped, and what may repeat is flagged.
      expect(handed).toEqual([
        { sku: 'a', redelivery: true },
        { sku: 'b', redelivery: true },
        { sku: 'c', redelivery: false },
        { sku: 'd', redelivery: false },
      ]);
    } finally {
      await store.dispose();
    }
  });

  it('stopped among pending events that are then confirmed: the rerun hands over the rest, each once', async () => {
    const store = await openOrderStore(worker);
    try {
      for (const sku of ['a', 'b', 'c', 'd']) await store.append(`o-${sku}`, [item(sku)]);
      const handled: string[] = [];
      await runAndStop(store, 'receipts', 2, handled);
      await confirmPending(store);
      const rerun = await store.replay({ name: 'receipts', handler: (event) => void handled.push(skuOf(event)) });
      expect(handled.sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(rerun).toMatchObject({ resumed: true, processed: 4, scanned: 4, total: 4 });
    } finally {
      await store.dispose();
    }
  });

  it('stopped inside one pending append, of which the server confirms a part: the rerun hands over the rest, each once', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', ['a', 'b', 'c', 'd'].map(item));
      const handled: string[] = [];
      await runAndStop(store, 'receipts', 2, handled);
      // One event confirmed: the pending page is written again holding b, c, d.
      await confirmPending(store, 1);
      await store.replay({ name: 'receipts', handler: (event) => void handled.push(skuOf(event)) });
      expect(handled.sort()).toEqual(['a', 'b', 'c', 'd']);
    } finally {
      await store.dispose();
    }
  });

  it('a run over many pending events that the sync confirms ahead of it hands over every event once', async () => {
    const store = await openOrderStore(worker);
    try {
      // More than a scan reads ahead (4,000 events), so the confirmation overtakes the run.
      const total = 9000;
      for (let b = 0; b < total / 1000; b++)
        await store.appendBatch(
          Array.from({ length: 1000 }, (_, i) => ({ aggregateId: `o-${b}-${i}`, events: [item(`s${b * 1000 + i}`)] })),
        );
      const ids = new Map<string, number>();
      const result = await store.replay({
        name: 'index',
        async handler(event) {
          ids.set(event.id, (ids.get(event.id) ?? 0) + 1);
          if (ids.size === 100) await confirmPending(store);
        },
      });
      expect(ids.size).toBe(total);
      expect(Math.max(...ids.values())).toBe(1);
      expect(result.processed).toBe(total);
    } finally {
      await store.dispose();
    }
  });
});
