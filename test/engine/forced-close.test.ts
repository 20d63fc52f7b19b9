import { afterEach, describe, expect, it } from 'vitest';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';

/**
 * The browser closing the engine's connection itself, as "Clear site data"
 * does: a `close` event (not `versionchange`), then the database is gone.
 * Calls in flight must settle and the store must stop, idle or not, without
 * waiting for the app's next call; a forced close of a database that is
 * still there only reconnects. Node only: fake-indexeddb's
 * forceCloseDatabase fires the event (Chromium's needs the DevTools protocol,
 * which clears every test's databases of the origin at once).
 */

const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

/** The connections the engines of this test open, as the page would hold them. */
let opened: IDBDatabase[] = [];
const realOpen = globalThis.indexedDB?.open.bind(globalThis.indexedDB);

function captureConnections(name: string): void {
  indexedDB.open = (dbName: string, version?: number) => {
    const request = realOpen!(dbName, version);
    if (dbName === name) request.addEventListener('success', () => opened.push(request.result));
    return request;
  };
}

afterEach(() => {
  if (realOpen) indexedDB.open = realOpen;
  opened = [];
});

async function clearSiteData(name: string): Promise<void> {
  const { forceCloseDatabase } = await import('fake-indexeddb');
  for (const db of opened) forceCloseDatabase(db as never);
  indexedDB.deleteDatabase(name);
}

describe.runIf(inNode)('the browser closing the connection itself (in-process)', () => {
  it('cleared site data: a call in flight settles, the store stops (deleted) without waiting for another call', async () => {
    const name = `forced-close-${Math.random().toString(36).slice(2)}`;
    captureConnections(name);
    const store = await openTestStore({ ...model, worker: false, name });
    try {
      await store.append('o1', [item('a')]);
      const stopped = store.stopped;
      const batch = Array.from({ length: 50 }, (_, i) => ({ aggregateId: `o-${i}`, events: [item(`s${i}`)] }));
      const inFlight = store.appendBatch(batch).then(
        () => 'stored',
        (error: { code?: string }) => error.code,
      );
      await clearSiteData(name);
      // Stored before the close, or refused as closed: settled either way, without another call.
      expect(['stored', 'STORE_CLOSED', 'STORAGE_CLOSED']).toContain(await inFlight);
      await expect(stopped).resolves.toMatchObject({ reason: 'deleted' });
      await expect(store.append('o1', [item('b')])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it('a forced close of a database that is still there reconnects, and nothing stored is lost', async () => {
    const name = `forced-close-${Math.random().toString(36).slice(2)}`;
    captureConnections(name);
    const store = await openTestStore({ ...model, worker: false, name });
    try {
      await store.append('o1', [item('a')]);
      const { forceCloseDatabase } = await import('fake-indexeddb');
      for (const db of opened) forceCloseDatabase(db as never);
      await store.append('o1', [item('b')]);
      const seqs: number[] = [];
      for await (const e of store.readStream('o1')) seqs.push(e.seq);
      expect(seqs).toEqual([1, 2]);
    } finally {
      await store.dispose();
    }
  });
});
