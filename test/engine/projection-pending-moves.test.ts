import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { defineProjection } from '../../src/core/projection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { applyRebase, planRebase, renumberPending, type RebaseDecision } from '../../worker/rebase.ts';
import { ItemAdded, model } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * A projection's pending layer resumes after the pending cursor it stopped
 * at (the pending step reads only the pages after it). Between two
 * catch-ups, pending pages can move under that cursor: a push confirms some
 * (they leave the pending area; a partly confirmed page is written again
 * with fewer events), a rejection or a rebase drops or rewrites them (a page
 * deleted, written again, its events changed). The cursor may then name a
 * page that no longer exists. Each catch-up must still give what a fresh fold
 * of the log gives: no event skipped, none folded twice.
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const skuOf = (event: { data: unknown }) => (event.data as { sku: string }).sku;

/** The skus folded, in the order folded: an event skipped, doubled or out of place shows. */
const skus = (name: string) =>
  defineProjection({
    name,
    events: [ItemAdded],
    initialState: (): string[] => [],
    handlers: { ItemAdded: (list: string[], event) => [...list, event.data.sku] },
  });
const Skus = skus('skus');

type Store = Awaited<ReturnType<typeof openOrderStore>>;

/** Single-event pages and three-event pages (one commit each), over four aggregates. */
async function appendMixed(store: Store, prefix: string, commits: number): Promise<void> {
  for (let i = 0; i < commits; i++) {
    const events = i % 4 === 3 ? [item(`${prefix}${i}a`), item(`${prefix}${i}b`), item(`${prefix}${i}c`)] : [item(`${prefix}${i}`)];
    await store.append(`o${i % 4}`, events);
  }
}

/** The stored log (confirmed by position, then pending in local order). */
async function storedLog(store: Store): Promise<StoredEvent[]> {
  return (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
}

/** What a sync pull does when the server confirms this client's first `count` pending events: same ids, with positions. */
async function confirmPending(store: Store, count = Infinity): Promise<void> {
  const stored = await storedLog(store);
  const pending = stored.filter((e) => e.position === undefined);
  const head = stored.length - pending.length;
  await store.importConfirmed(pending.slice(0, count).map((e, i) => ({ ...e, position: head + i + 1 })));
}

let freshNames = 0;
/**
 * The projection's state and event count against a fresh fold of the same
 * handlers (a projection never folded before) and against the log read now.
 */
async function expectAsFreshFold(store: Store): Promise<void> {
  const kept = await store.projection(Skus).get();
  const fresh = await store.projection(skus(`skus-fresh-${++freshNames}`)).get();
  const log = (await collect(store.readLog())).map(skuOf);
  expect(fresh.state).toEqual(log);
  expect(kept.state).toEqual(log);
  expect(kept.applied).toBe(log.length);
}

describe.each(modes)("a projection's pending layer when pending pages move between catch-ups ($mode)", ({ worker }) => {
  it('a push confirms some pending events (one page only partly), then more are appended', async () => {
    const store = await openOrderStore(worker);
    try {
      await appendMixed(store, 'a', 12);
      await expectAsFreshFold(store);
      // 12 commits, the 4th, 8th and 12th of three events: the first 5 events end inside the 4th commit's page.
      await confirmPending(store, 5);
      await expectAsFreshFold(store);
      await appendMixed(store, 'b', 3);
      await expectAsFreshFold(store);
      // Everything confirmed: the pending cursor's page is gone, and the next pages are new ones.
      await confirmPending(store);
      await appendMixed(store, 'c', 5);
      await expectAsFreshFold(store);
      expect(await store.info()).toMatchObject({ pendingEvents: 7 });
    } finally {
      await store.dispose();
    }
  });

  it('a rejection drops pending events (the page the layer stopped at among them), then more are appended', async () => {
    const store = await openOrderStore(worker);
    try {
      await appendMixed(store, 'a', 12);
      await expectAsFreshFold(store);
      const pending = await storedLog(store);
      // A single-event page (deleted), one event of a three-event page (written again) and the last page's three
      // events (the page the pending layer's cursor is on: deleted).
      const refused = [pending[1]!, pending[4]!, ...pending.slice(-3)].map((e) => e.id);
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const { rejected } = await renumberPending(db, 1, new Map(refused.map((id) => [id, { code: 'REFUSED', reason: 'test' }])));
        expect(rejected.map((e) => e.id)).toEqual(refused);
      } finally {
        db.close();
      }
      await expectAsFreshFold(store);
      await appendMixed(store, 'b', 4);
      await expectAsFreshFold(store);
    } finally {
      await store.dispose();
    }
  });

  it("a rebase drops and rewrites pending events under the layer's cursor, then more are appended", async () => {
    const store = await openOrderStore(worker);
    try {
      await appendMixed(store, 'a', 12);
      const pending = await storedLog(store);
      const ours = pending.find((e) => e.aggregateId === 'o1')!;
      // Another device's event took o1's seq 1 on the server: o1's pending events conflict.
      const theirs: StoredEvent = {
        ...ours,
        id: 'theirs-1',
        data: { sku: 'theirs', qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'another-device', clientSeq: 1 },
        position: 1,
      };
      await store.importConfirmed([theirs]);
      // The layer is folded over the pending events as they are before the rebase.
      await expectAsFreshFold(store);
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const plan = await planRebase(db);
        const conflicting = plan.conflicts.flatMap((c) => c.pending);
        expect(conflicting.map((e) => e.aggregateId)).toEqual(['o1', 'o1', 'o1']);
        const decisions = new Map<string, RebaseDecision>([
          [conflicting[0]!.id, { action: 'drop', reason: 'test' }],
          [conflicting[1]!.id, { action: 'transform', data: { sku: 'rewritten', qty: 1, price: 1 } }],
        ]);
        await applyRebase(db, plan, decisions);
      } finally {
        db.close();
      }
      await expectAsFreshFold(store);
      expect((await store.projection(Skus).get()).state).toContain('rewritten');
      await appendMixed(store, 'b', 4);
      await expectAsFreshFold(store);
    } finally {
      await store.dispose();
    }
  });

  it('another tab confirms pending events and appends while this one is not looking', async () => {
    const a = await openOrderStore(worker);
    const b = await openTestStore({ ...model, worker, name: a.name });
    try {
      await appendMixed(a, 'a', 12);
      await expectAsFreshFold(a);
      // The other tab confirms part of them, appends, and catches the same stored projection up.
      await confirmPending(b, 9);
      await appendMixed(b, 'b', 3);
      await expectAsFreshFold(b);
      await expectAsFreshFold(a);
      // And again, this tab's projection a step behind: the other tab confirms all, appends, without catching up.
      await appendMixed(a, 'c', 2);
      await expectAsFreshFold(a);
      await confirmPending(b);
      await appendMixed(b, 'd', 2);
      await expectAsFreshFold(a);
      await expectAsFreshFold(b);
    } finally {
      await b.close();
      await a.dispose();
    }
  });
});
