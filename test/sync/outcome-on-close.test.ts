import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventOutcome } from '../../src/client/sync.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * A store closed (an app reloading) while a push is on the wire: close()
 * lets that round finish its push and the pull that confirms it, and the
 * `confirmed` outcomes it publishes reach the app's onOutcome listeners
 * before close() resolves. After a reopen those events are confirmed
 * already, so no later session would ever report them.
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer({ limits: { rateLimit: false } });
});
afterAll(() => harness.close());

describe('outcomes of the round in flight when the store closes', () => {
  it("every event confirmed by that round gets its 'confirmed' outcome in the closing session", async () => {
    const name = uniqueStoreName('outcome-close');
    const first = await openClient(harness.url, { name });
    await first.sync.pause();
    const ids: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const results = await first.appendBatch(
        Array.from({ length: 500 }, (_, i) => ({
          aggregateId: `close-${batch}-${i}`,
          events: [{ type: 'OrderPlaced' as const, data: { customerId: 'c' } }],
        })),
      );
      for (const result of results) ids.push(...result.events.map((e) => e.id));
    }
    await first.close();

    let pushes = 0;
    let closing: Promise<void> | undefined;
    // Closes the store as its second push (of three, 500 events each) goes out (the sync is paused until resume()).
    const closeOnSecondPush: typeof fetch = (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith('/push') && ++pushes === 2) closing = store.close();
      return fetch(input, init);
    };
    const store = await openClient(harness.url, { name, fetch: closeOnSecondPush });
    const outcomes: EventOutcome[] = [];
    store.sync.onOutcome((o) => outcomes.push(...o));
    await store.sync.resume();
    while (!closing) await new Promise((resolve) => setTimeout(resolve, 5));
    await closing;
    const heardWhileOpen = new Set(outcomes.filter((o) => o.status === 'confirmed').map((o) => o.id));

    const reopened = await openClient(harness.url, { name });
    try {
      reopened.sync.onOutcome((o) => outcomes.push(...o));
      await reopened.sync.syncNow();
      const heard = new Set(outcomes.filter((o) => o.status === 'confirmed').map((o) => o.id));
      expect(ids.filter((id) => !heard.has(id))).toEqual([]);
      // The first two pushes' events were confirmed before close() resolved, in the session that pushed them.
      expect(heardWhileOpen.size).toBeGreaterThanOrEqual(1_000);
    } finally {
      await reopened.dispose();
    }
  });
});
