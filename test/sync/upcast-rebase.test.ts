// A pending event of an older build whose upcast now fails (its upcaster's result is refused by the
// new schema), in a rebase: the decider reads it as an event it cannot read and keeps it as it is, and
// folds the server's state without such events, so one bad event never fails every sync round.
import { afterEach, describe, expect, it } from 'vitest';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { OrderV1, OrderV2 } from '../fixtures/broken-upcast.ts';
import { collect } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

let harness: Harness | undefined;
const names: string[] = [];
afterEach(async () => {
  await harness?.close();
  for (const name of names.splice(0)) await deleteTestDatabase(name);
});

describe('a pending old event whose upcast fails, in a rebase', () => {
  it('is kept as it is, and the round syncs it', async () => {
    harness = await startServer();
    const nameA = uniqueStoreName('upcast-a');
    const nameB = uniqueStoreName('upcast-b');
    names.push(nameA, nameB);
    // The old build of A appends a Note offline (pending, never pushed).
    const old = await openTestStore({ name: nameA, aggregates: [OrderV1], worker: false });
    await old.append('o1', [{ type: 'Note', data: { text: 'ring twice' } }]);
    await old.close();
    // Meanwhile B puts a payment on the same order on the server.
    const b = await openClient(harness.url, { name: nameB, aggregates: [OrderV2] });
    await b.append('o1', [{ type: 'Paid', data: { cents: 5 } }]);
    await b.sync.syncNow();
    await b.close();
    // A, upgraded, syncs: its pending Note conflicts with the server's o1 seq 1 and is rebased.
    const a = await openClient(harness.url, { name: nameA, aggregates: [OrderV2] });
    try {
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ lastError: null, pending: 0, confirmedPosition: 2 });
      // Kept, after the server's payment: the Note took the next seq, its data as the old build stored it
      // (the export writes stored events, so it works with an event whose upcast fails; a read of o1 fails loudly).
      const exported = (await collect(a.exportLog())).map((line) => JSON.parse(line) as { seq: number; type: string; data: unknown });
      expect(exported.map((e) => [e.seq, e.type, e.data])).toEqual([
        [1, 'Paid', { cents: 5 }],
        [2, 'Note', { text: 'ring twice' }],
      ]);
      await expect(collect(a.readStream('o1'))).rejects.toMatchObject({ code: 'UPCAST' });
    } finally {
      await a.close();
    }
  }, 30_000);
});
