// A push carries only events already flushed to disk (IndexedDB's strict
// durability): a device that forgot events the server holds would hand their
// clientSeqs out again. See worker/durability.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAt, startCommitJournal, type JournalCommit } from '../fixtures/commit-journal.ts';
import { openClient, startServer, type Harness } from './harness.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

describe('durability of pushed events', () => {
  it('every push is preceded by a strict commit made after the last commit that wrote events', async () => {
    const journal = startCommitJournal();
    let pushes = 0;
    const markingFetch: typeof fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (/\/push(\?|$)/.test(new URL(url).pathname)) journal.mark(`push:${++pushes}`);
      return fetch(input, init);
    };
    const client = await openClient(harness.url, { fetch: markingFetch, noWebSocket: true });
    try {
      await client.append('o1', [item('cup')]);
      await client.sync.syncNow();
      await client.append('o1', [item('mug'), item('jug')]);
      await client.append('o2', [item('pan')]);
      await client.sync.syncNow();
      expect(pushes).toBeGreaterThanOrEqual(2);
      expect((await client.sync.status()).pending).toBe(0);
      for (let n = 1; n <= pushes; n++) {
        const push = markAt(journal, `push:${n}`);
        let written = -1;
        for (let i = push - 1; i >= 0; i--) {
          const entry = journal.entries[i]!;
          if (entry.kind === 'commit' && entry.stores.includes('pages')) {
            written = i;
            break;
          }
        }
        expect(written, `push ${n}: a commit of events before it`).toBeGreaterThanOrEqual(0);
        const between = journal.commitsBetween(written, push);
        expect(
          between.some((c: JournalCommit) => c.durability === 'strict'),
          `push ${n}: ${JSON.stringify(between)}`,
        ).toBe(true);
      }
    } finally {
      journal.stop();
      await client.dispose();
    }
  });
});
