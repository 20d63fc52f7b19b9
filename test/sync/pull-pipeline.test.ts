// A sync round's pull (worker/sync/sync-round.ts) asks for page N+1 while it stores page N.
// Given a server log of many pages, when a round pulls it, then every event is stored once, in
// order, and the next page was on its way while each page was stored.
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { newMeta } from '../../worker/meta.ts';
import { readLogPages } from '../../worker/reads.ts';
import { decodePageJson } from '../../worker/page-codec.ts';
import { createSyncRound } from '../../worker/sync/sync-round.ts';
import type { Transport } from '../../worker/sync/transport.ts';
import type { SyncStatus } from '../../worker/types.ts';

const serverLog = (count: number): StoredEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `s-${i + 1}`,
    aggregateId: `a${i % 7}`,
    aggregateType: 'Order',
    seq: Math.floor(i / 7) + 1,
    type: 'ItemAdded',
    version: 2,
    data: { sku: `k${i}`, qty: 1, price: 1 },
    meta: { occurredAt: 1_700_000_000_000 + i, clientId: 'someone-else', clientSeq: i + 1 },
    position: i + 1,
  }));

describe('sync round: pull', () => {
  it('given a log of many pages, then it asks for the next page while storing one, and stores every event once in order', async () => {
    const name = uniqueStoreName('pull-pipeline');
    const db = await openChronicleDb(name, { onGone: () => undefined });
    await db.put('meta', newMeta('me'), 'client');
    const log = serverLog(1050);
    const limit = 100;
    let inFlight = 0;
    let overlapped = 0;
    let storing = false;
    const asked: number[] = [];
    const transport: Transport = {
      push: () => Promise.reject(new Error('nothing to push')),
      fence: () => Promise.reject(new Error('no fence')),
      liveUrl: () => Promise.reject(new Error('no live')),
      async pull(after, max) {
        asked.push(after);
        inFlight++;
        if (storing) overlapped++;
        await new Promise((resolve) => setTimeout(resolve, 25));
        inFlight--;
        const events = log.slice(after, after + max);
        return { events, head: log.length, hasMore: after + events.length < log.length };
      },
    };
    const status: SyncStatus = {
      state: 'syncing',
      leader: true,
      pending: 0,
      confirmedPosition: 0,
      serverHead: 0,
      lastSyncAt: null,
      lastError: null,
      progress: null,
    };
    const round = createSyncRound(
      {
        clientId: 'me',
        getDb: async () => db,
        publish: (change) => {
          // Published once a page is stored: the next one should already have been asked for.
          if (change.kind === 'confirmed') storing = inFlight > 0;
        },
        transport,
        status,
        setStatus: (patch) => Object.assign(status, patch),
        halted: () => false,
      },
      { pullLimit: limit, pushLimit: 100 },
    );
    try {
      await round.run();
      expect(asked).toEqual(Array.from({ length: 11 }, (_, i) => i * limit));
      expect(overlapped).toBeGreaterThan(5);
      const stored: string[] = [];
      let after = null;
      for (;;) {
        const result = await readLogPages(db, { after, maxEvents: 5000 });
        for (const page of result.pages) stored.push(...decodePageJson(page.json).map((e) => e.id));
        if (result.end) break;
        const last = result.pages[result.pages.length - 1]!;
        after = { area: last.area, page: last.page, index: last.count - 1 };
      }
      expect(stored).toEqual(log.map((e) => e.id));
      expect((await db.get('meta', 'client'))!.confirmedHead).toBe(1050);
    } finally {
      db.close();
      await new Promise<void>((resolve) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = request.onerror = () => resolve();
      });
    }
  });
});
