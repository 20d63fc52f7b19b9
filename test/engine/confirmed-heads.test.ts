import { describe, expect, it } from 'vitest';
import { openChronicleDb, type ChronicleDB } from '../../worker/db.ts';
import { createConfirmedHeads } from '../../worker/confirmed-heads.ts';
import { indexBacklog } from '../../worker/indexer.ts';
import { ingestConfirmed } from '../../worker/ingest.ts';
import { history, importAll } from '../fixtures/history.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * A sync round refuses a pulled event that repeats a seq its aggregate holds
 * (worker/confirmed-heads.ts): a server serving an event again at a later
 * position would otherwise have it stored, replayed and reacted to twice. The
 * head it is checked against is read from wherever the store keeps it: pages
 * a pull stored and the engine has not indexed yet, the confirmed index, and
 * what compaction keeps of dropped pages.
 */

/** History ends at position 20, orders o0..o3 at seq 5 each. The event at position 21 is one of o1's. */
const next = (seq: number, position = 21) => ({ ...history({ pages: 1, perPage: 1, orders: 4, start: 21 })[0]![0]!, seq, position });

async function withDb<T>(name: string, fn: (db: ChronicleDB) => Promise<T>): Promise<T> {
  const db = await openChronicleDb(name, { onGone: () => undefined });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

describe.each(modes)('ingest with confirmed heads ($mode)', ({ worker }) => {
  const stored = async (name: string): Promise<number> => {
    const store = await openOrderStore(worker, { name });
    try {
      return (await collect(store.readLog())).length;
    } finally {
      await store.dispose();
    }
  };
  const fresh = () => `heads-${Math.random()}`;

  /** A store holding the history, closed again: the test then works on its database directly. */
  async function storeWithHistory(name: string, after?: (store: Awaited<ReturnType<typeof openOrderStore>>) => Promise<void>) {
    const store = await openOrderStore(worker, { name });
    try {
      await importAll(store, history({ pages: 2, perPage: 10, orders: 4 }));
      await after?.(store);
    } finally {
      await store.close();
    }
  }

  it('refuses a repeated seq found in pages not indexed yet, then in the index, and stores the next seq', async () => {
    const name = fresh();
    await storeWithHistory(name);
    await withDb(name, async (db) => {
      await expect(ingestConfirmed(db, [next(5)], createConfirmedHeads())).rejects.toMatchObject({
        code: 'SYNC_PROTOCOL',
        message: expect.stringContaining('is seq 5 of aggregate o1, which holds seqs up to 5 already'),
      });
      while ((await indexBacklog(db, 10)) > 0);
      await expect(ingestConfirmed(db, [next(1)], createConfirmedHeads())).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
      expect(await ingestConfirmed(db, [next(6)], createConfirmedHeads())).toMatchObject({ stored: 1, head: 21 });
    });
    expect(await stored(name)).toBe(21);
  });

  it('refuses a repeated seq of a stream that compaction dropped whole', async () => {
    const name = fresh();
    await storeWithHistory(name, (store) => store.compact({ retention: { maxEvents: 0 }, measure: false }).then(() => undefined));
    await withDb(name, async (db) => {
      await expect(ingestConfirmed(db, [next(3)], createConfirmedHeads())).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
      expect(await ingestConfirmed(db, [next(6)], createConfirmedHeads())).toMatchObject({ stored: 1 });
    });
  });

  it('keeps what a round stored: the same seq in a later page of the round is refused', async () => {
    const name = fresh();
    await storeWithHistory(name);
    await withDb(name, async (db) => {
      const heads = createConfirmedHeads();
      await ingestConfirmed(db, [next(6)], heads);
      await expect(ingestConfirmed(db, [next(6, 22)], heads)).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
      expect(heads.known.get('o1')).toBe(6);
    });
    expect(await stored(name)).toBe(21);
  });
});
