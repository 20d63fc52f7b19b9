import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Keyring } from '../../src/core/encryption.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { eventually } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * The keys function may take its time (a passphrase prompt): a round waits for it up to 30 s. pause() does
 * not wait that long: the round in flight lets go of the keys function at once and ends as a paused round
 * ends (syncNow rejects with SYNC_PAUSED, the state is 'paused', no error recorded); after resume() the
 * next round waits for the same call, not a new one.
 */

const log = `enc-pause-${Date.now().toString(36)}`;
let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

async function serverEvents(): Promise<StoredEvent[]> {
  const response = await fetch(`${harness.url}/v1/logs/${log}/pull?after=0&limit=100`, { headers: { authorization: 'Bearer test-token' } });
  return ((await response.json()) as { events: StoredEvent[] }).events;
}

describe('pause while the keys function has not answered', () => {
  it('returns without waiting for it; syncNow gets SYNC_PAUSED; after resume the same call is waited for, and the events go', async () => {
    let asked = 0;
    let answer!: (keyring: Keyring) => void;
    const prompt = new Promise<Keyring>((resolve) => (answer = resolve));
    const a = await openClient(harness.url, { log, encryption: { keys: () => (asked++, prompt) } });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      const round = a.sync.syncNow().then(
        () => undefined,
        (e: unknown) => e,
      );
      await eventually(() => expect(asked).toBe(1));
      // Not a speed check: without letting go, pause() waits for the keys function (up to the 30 s round limit).
      const stillWaiting = new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still waiting').unref());
      expect(await Promise.race([a.sync.pause().then(() => 'paused'), stillWaiting])).toBe('paused');
      expect(await round).toMatchObject({ code: 'SYNC_PAUSED' });
      expect(await a.sync.status()).toMatchObject({ state: 'paused', pending: 1, lastError: null });

      await a.sync.resume();
      const next = a.sync.syncNow();
      // The prompt is still open: the rounds after resume wait for it rather than open another one.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(asked).toBe(1);
      answer({ current: 'k1', keys: { k1: new Uint8Array(32).fill(1) } });
      await next;
      expect(await a.sync.status()).toMatchObject({ state: 'online', pending: 0, confirmedPosition: 1 });
      expect(await serverEvents()).toHaveLength(1);
    } finally {
      await a.dispose();
    }
  });
});
