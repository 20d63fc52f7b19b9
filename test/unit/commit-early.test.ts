// commitEarly (worker/commit-early.ts): a transaction whose requests are all
// queued is asked to commit at once; where that cannot be done, it is left to
// commit on its own. (fake-indexeddb is installed by test/setup/node.ts.)
import { openDB, unwrap } from 'idb';
import { describe, expect, it } from 'vitest';
import { commitEarly } from '../../worker/commit-early.ts';

const openKv = (name: string) => openDB(name, 1, { upgrade: (db) => db.createObjectStore('kv') });

describe('commitEarly', () => {
  it('given queued writes, then the transaction is committing at once (abort is refused) and the writes are stored', async () => {
    const db = await openKv('commit-early-1');
    const tx = db.transaction('kv', 'readwrite');
    void tx.store.put('value', 'key');
    commitEarly(unwrap(tx));
    expect(() => tx.abort()).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    await tx.done;
    expect(await db.get('kv', 'key')).toBe('value');
    db.close();
  });

  it('given a transaction that already finished, then it does nothing and does not throw', async () => {
    const db = await openKv('commit-early-2');
    const tx = db.transaction('kv', 'readwrite');
    void tx.store.put(1, 'a');
    await tx.done;
    expect(() => commitEarly(unwrap(tx))).not.toThrow();
    db.close();
  });

  it('given an engine without IDBTransaction.commit, then the transaction is left to auto-commit', () => {
    const legacy = { commit: undefined } as unknown as IDBTransaction;
    expect(() => commitEarly(legacy)).not.toThrow();
  });
});
