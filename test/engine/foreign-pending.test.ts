// Another device's pending events, copied here by importLog (a bug reproduction, a support person moving
// a broken device's unsynced orders): they are that device's edits, not this client's. They stay readable
// and folded as pending until a pull brings the same ids confirmed, which takes them out of the pending
// area in the same transaction; a pull that brings another event at one's seq takes it (and the later
// ones of its aggregate) out too; deleteStore and the sync status count only this client's own.
import { describe, expect, it } from 'vitest';
import { deleteStore, UnfinishedWorkError } from '../../src/client/index.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { applyRebase, planRebase, renumberPending } from '../../worker/rebase.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

const OTHER = 'other-device';

/** An event of the other device, as its export writes it: pending (no position), or as a pull brings it later. */
function theirs(id: string, aggregateId: string, seq: number, clientSeq: number, position?: number): StoredEvent {
  const event: StoredEvent = {
    id,
    aggregateId,
    aggregateType: 'Order',
    seq,
    type: seq === 1 ? 'OrderPlaced' : 'ItemAdded',
    version: seq === 1 ? 1 : 2,
    data: seq === 1 ? { customerId: `customer-of-${aggregateId}` } : { sku: id, qty: 1, price: 10 },
    meta: { occurredAt: 1_000 + clientSeq, clientId: OTHER, clientSeq },
  };
  return position === undefined ? event : { ...event, position };
}

const lines = (events: StoredEvent[]) => events.map((e) => JSON.stringify(e));

type LogRow = { id: string; aggregateId: string; seq: number; confirmed: boolean };
const logRows = async (store: { readLog(): AsyncIterable<StoredEvent> }): Promise<LogRow[]> =>
  (await collect(store.readLog())).map((e) => ({ id: e.id, aggregateId: e.aggregateId, seq: e.seq, confirmed: e.position !== undefined }));

/** Sets meta fields as another build's tab would leave them (worker/db.ts MetaRecord). */
async function editMeta(name: string, edit: (meta: Record<string, unknown>) => void): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('meta', 'readwrite');
      const store = tx.objectStore('meta');
      const get = store.get('client');
      get.onsuccess = () => {
        const meta = get.result as Record<string, unknown>;
        edit(meta);
        store.put(meta, 'client');
      };
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

describe.each(modes)("another device's pending events ($mode)", ({ worker }) => {
  it('a pull that brings them confirmed takes them out of the pending area: each id once in the log, counts right', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      const f1 = theirs('f1', 'o1', 1, 1);
      const f2 = theirs('f2', 'o1', 2, 2);
      expect(await store.importLog(lines([f1, f2]))).toEqual({ confirmed: 0, pending: 2 });
      await store.append('mine', [{ type: 'OrderPlaced', data: { customerId: 'me' } }]);
      // Readable and folded as pending meanwhile.
      expect((await store.load(model.aggregates[0], 'o1')).version).toBe(2);
      expect((await store.info()).pendingEvents).toBe(3);

      // The other device pushed them; this store pulls them.
      await store.importConfirmed([theirs('f1', 'o1', 1, 1, 1), theirs('f2', 'o1', 2, 2, 2)]);
      const rows = await logRows(store);
      expect(rows.map((r) => r.id)).toEqual(['f1', 'f2', rows.at(-1)!.id]);
      expect(rows.slice(0, 2).every((r) => r.confirmed)).toBe(true);
      expect((await store.info()).pendingEvents).toBe(1);
      const { state, version } = await store.load(model.aggregates[0], 'o1');
      expect({ version, total: state.total }).toEqual({ version: 2, total: 10 });
      expect((await store.sync.status()).pending).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it('a pull that brings another event at their seq takes them (and their aggregate later ones) out; their device pushes them rebased', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      await store.importLog(lines([theirs('f1', 'o1', 1, 1), theirs('f2', 'o1', 2, 2), theirs('g1', 'o2', 1, 3)]));
      // A snapshot of o1 that holds them: it goes with them.
      await store.snapshot(model.aggregates[0], 'o1');
      // A third device placed o1 first: its event takes seq 1.
      await store.importConfirmed([{ ...theirs('x1', 'o1', 1, 1, 1), meta: { occurredAt: 5, clientId: 'third', clientSeq: 1 } }]);
      expect(await logRows(store)).toEqual([
        { id: 'x1', aggregateId: 'o1', seq: 1, confirmed: true },
        { id: 'g1', aggregateId: 'o2', seq: 1, confirmed: false },
      ]);
      expect((await store.info()).pendingEvents).toBe(1);
      const loaded = await store.load(model.aggregates[0], 'o1');
      expect({ version: loaded.version, customer: loaded.state.customerId, total: loaded.state.total }).toEqual({
        version: 1,
        customer: 'customer-of-o1',
        total: 0,
      });

      // The other device rebased them after x1 and pushed them: they come back confirmed, once each.
      await store.importConfirmed([theirs('f1', 'o1', 2, 1, 2), theirs('f2', 'o1', 3, 2, 3), theirs('g1', 'o2', 1, 3, 4)]);
      expect((await logRows(store)).map((r) => `${r.id}@${r.aggregateId}:${r.seq}${r.confirmed ? '' : ' pending'}`)).toEqual([
        'x1@o1:1',
        'f1@o1:2',
        'f2@o1:3',
        'g1@o2:1',
      ]);
      expect((await store.info()).pendingEvents).toBe(0);
      expect((await store.load(model.aggregates[0], 'o1')).version).toBe(3);
    } finally {
      await store.dispose();
    }
  });

  it('a rebase and a renumbering pass over them, but for those of an aggregate whose own events a rebase re-sequences', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      await store.importLog(lines([theirs('f1', 'o1', 1, 7), theirs('f3', 'o3', 1, 8)]));
      await store.append('o2', [
        { type: 'OrderPlaced', data: { customerId: 'me' } },
        { type: 'ItemAdded', data: { sku: 'x', qty: 1, price: 1 } },
      ]);
      // This client edits the imported o1: its event is stacked on f1, at seq 2.
      await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'mine', qty: 1, price: 1 } }]);
      // A third device's event took o2's seq 1 on the server.
      await store.importConfirmed([{ ...theirs('x2', 'o2', 1, 1, 1), meta: { occurredAt: 5, clientId: 'third', clientSeq: 1 } }]);
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const plan = await planRebase(db);
        expect(plan.conflicts.map((c) => [c.aggregateId, c.pending.map((e) => e.meta.clientSeq)])).toEqual([
          ['o2', [1, 2]],
          ['o1', [3]],
        ]);
        const outcomes = await applyRebase(db, plan, new Map());
        expect(outcomes.map((o) => `${o.aggregateId}:${o.previousSeq}->${o.seq}`)).toEqual(['o2:1->2', 'o2:2->3', 'o1:2->1']);
        await renumberPending(db, 10);
      } finally {
        db.close();
      }
      const pending = (await collect(store.readLog({ status: 'pending' }))).map(
        (e) => `${e.aggregateId}:${e.seq} ${e.meta.clientId === OTHER ? 'theirs' : 'mine'} #${e.meta.clientSeq}`,
      );
      // f1 left with o1's rebase (this client's event took its seq); f3 kept its seq and number.
      expect(pending).toEqual(['o3:1 theirs #8', 'o2:2 mine #10', 'o2:3 mine #11', 'o1:1 mine #12']);
      expect((await store.info()).pendingEvents).toBe(4);
      expect((await store.sync.status()).pending).toBe(3);
      await store.append('o4', [{ type: 'OrderPlaced', data: { customerId: 'next' } }]);
      expect((await collect(store.readLog({ status: 'pending' }))).at(-1)!.meta.clientSeq).toBe(13);
    } finally {
      await store.dispose();
    }
  });

  it("deleteStore counts only this client's own pending events as unfinished work", async () => {
    const name = uniqueStoreName('foreign-pending-delete');
    let store = await openTestStore({ ...model, worker, name });
    try {
      await store.importLog(lines([theirs('f1', 'o1', 1, 1), theirs('f2', 'o1', 2, 2)]));
      await store.append('mine', [{ type: 'OrderPlaced', data: { customerId: 'me' } }]);
      await store.close();
      const refused = await deleteStore(name).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UnfinishedWorkError);
      expect(refused).toMatchObject({ pendingEvents: 1 });

      // Only the other device's: nothing of this client's would be lost.
      store = await openTestStore({ ...model, worker });
      await store.importLog(lines([theirs('f1', 'o1', 1, 1)]));
      expect((await store.sync.status()).pending).toBe(0);
      await store.close();
      expect(await deleteStore(store.name)).toMatchObject({ deleted: true, discarded: { pendingEvents: 0 } });
    } finally {
      await store.close().catch(() => undefined);
      await deleteTestDatabase(name);
    }
  });

  it("a count an older build's tab left stale (it rewrote pending events) is unknown: every pending event counts as own until a pull counts again", async () => {
    const name = uniqueStoreName('foreign-pending-stale');
    let store = await openTestStore({ ...model, worker, name });
    try {
      await store.importLog(lines([theirs('f1', 'o1', 1, 1), theirs('f2', 'o1', 2, 2)]));
      await store.append('mine', [{ type: 'OrderPlaced', data: { customerId: 'me' } }]);
      await store.close();
      // An older build renumbered or rebased the pending events: it bumps pendingRewrites, not the foreign count.
      await editMeta(name, (meta) => {
        meta.pendingRewrites = ((meta.pendingRewrites as number | undefined) ?? 0) + 1;
      });
      expect(await deleteStore(name).catch((e: unknown) => e)).toMatchObject({ pendingEvents: 3 });

      store = await openTestStore({ ...model, worker, name });
      expect((await store.sync.status()).pending).toBe(3);
      // A pull looks for them all the same, and counts them again.
      await store.importConfirmed([theirs('f1', 'o1', 1, 1, 1)]);
      expect((await logRows(store)).map((r) => r.id).filter((id) => id.startsWith('f'))).toEqual(['f1', 'f2']);
      expect((await store.info()).pendingEvents).toBe(2);
      expect((await store.sync.status()).pending).toBe(1);
    } finally {
      await store.close().catch(() => undefined);
      await deleteTestDatabase(name);
    }
  });
});
