// Platform smoke tests. They run in BOTH Vitest projects:
//  - node:    IndexedDB from fake-indexeddb (test/setup/node.ts), Node's BroadcastChannel
//  - browser: real Chromium IndexedDB and BroadcastChannel
// If these fail, every engine suite would fail for environmental reasons.
import { deleteDB, openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';

const uniqueName = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

describe('platform: IndexedDB', () => {
  const created: string[] = [];

  afterEach(async () => {
    // Best-effort cleanup even if an assertion failed mid-test.
    await Promise.all(created.splice(0).map((name) => deleteDB(name)));
  });

  it('exposes the IndexedDB globals', () => {
    expect(typeof indexedDB).toBe('object');
    expect(typeof indexedDB.open).toBe('function');
    expect(typeof IDBKeyRange).toBe('function');
    expect(IDBKeyRange.bound(1, 5).includes(3)).toBe(true);
  });

  it('opens a database, writes in a readwrite transaction, reads back and deletes it', async () => {
    const name = uniqueName('platform-idb');
    created.push(name);

    const db = await openDB(name, 1, {
      upgrade(upgradeDb) {
        const store = upgradeDb.createObjectStore('events', { keyPath: 'seq' });
        store.createIndex('byStream', 'stream');
      },
    });

    const record = {
      seq: 1,
      stream: 'cart-42',
      type: 'ItemAdded',
      payload: { sku: 'abc', qty: 2, at: new Date(0) },
    };

    const tx = db.transaction('events', 'readwrite');
    await tx.store.put(record);
    await tx.done;

    const read = await db.get('events', 1);
    expect(read).toEqual(record);
    expect(read).not.toBe(record); // structured clone, not the same object
    expect(read.payload.at).toBeInstanceOf(Date);

    const byStream = await db.getAllFromIndex('events', 'byStream', IDBKeyRange.only('cart-42'));
    expect(byStream).toHaveLength(1);

    db.close();

    // close() only marks the connection close-pending until its transactions finish, so a
    // real browser may fire `blocked` once before the delete goes through; it must still resolve.
    await deleteDB(name);
    created.splice(created.indexOf(name), 1);

    const reopened = await openDB(name);
    created.push(name);
    expect(reopened.version).toBe(1);
    expect([...reopened.objectStoreNames]).toEqual([]);
    reopened.close();
  });
});

describe('platform: BroadcastChannel', () => {
  it('delivers a message between two channels with the same name', async () => {
    const name = uniqueName('platform-bc');
    const sender = new BroadcastChannel(name);
    const receiver = new BroadcastChannel(name);
    try {
      const received = new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no BroadcastChannel message within 5s')), 5_000);
        receiver.onmessage = (event: MessageEvent) => {
          clearTimeout(timer);
          resolve(event.data);
        };
      });

      const message = { kind: 'appended', stream: 'cart-42', seq: 7 };
      sender.postMessage(message);

      await expect(received).resolves.toEqual(message);
    } finally {
      // Node keeps the process alive while a BroadcastChannel is open.
      sender.close();
      receiver.close();
    }
  });
});
