// commitEarly (worker/commit-early.ts): a transaction whose requests are all
// queued is asked to commit at once; where that cannot be done, it is left to
// commit on its own.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { commitEarly } from '../../worker/commit-early.ts';

function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('kv');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

const completion = (tx: IDBTransaction) =>
  new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

describe('commitEarly', () => {
  it('given queued writes, then the transaction is committing at once (abort is refused) and the writes are stored', async () => {
    const db = await openDb('commit-early-1');
    const tx = db.transaction('kv', 'readwrite');
    tx.objectStore('kv').put('value', 'key');
    const done = completion(tx);
    commitEarly(tx);
    expect(() => tx.abort()).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    await done;
    const read = db.transaction('kv').objectStore('kv').get('key');
    await new Promise((resolve) => (read.onsuccess = resolve));
    expect(read.result).toBe('value');
    db.close();
  });

  it('given a transaction that already finished, then it does nothing and does not throw', async () => {
    const db = await openDb('commit-early-2');
    const tx = db.transaction('kv', 'readwrite');
    tx.objectStore('kv').put(1, 'a');
    await completion(tx);
    expect(() => commitEarly(tx)).not.toThrow();
    db.close();
  });

  it('given an engine without IDBTransaction.commit, then the transaction is left to auto-commit', () => {
    const legacy = { commit: undefined } as unknown as IDBTransaction;
    expect(() => commitEarly(legacy)).not.toThrow();
  });
});
