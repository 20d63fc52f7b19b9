import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Keyring } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { Order } from '../fixtures/model.ts';
import { logOf, openClient, serverEvents, startServer, syncError, type Harness } from './harness.ts';

/**
 * Dropping an old key from the keyring makes the events under it unreadable only for a client that has not
 * pulled them yet (README "Key rotation"). Each round's first pull starts at the last event a client holds,
 * to check the server still holds it (server-history.ts); that event needs no opening, so a client that
 * holds every event under the dropped key goes on syncing, while one that has yet to pull such an event
 * stops at it with unknown-key, storing nothing of its page.
 */

const key = (fill: number) => new Uint8Array(32).fill(fill);
const K1: Keyring = { current: 'k1', keys: { k1: key(1) } };
const ONLY_K2: Keyring = { current: 'k2', keys: { k2: key(2) } };
const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });

let logs = 0;
const freshLog = () => `enc-drop-${Date.now().toString(36)}-${++logs}`;

const kidOf = (event: StoredEvent) => (event.data as { kid: string }).kid;

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

describe('a key dropped from the keyring', () => {
  it('a client that holds every event under it syncs on: its new events are pushed, round after round', async () => {
    const log = freshLog();
    const name = uniqueStoreName('enc-drop-held');
    const writer = await openClient(harness.url, { log, encryption: { keys: K1 } });
    const holder = await openClient(harness.url, { log, name, encryption: { keys: K1 } });
    try {
      await writer.append('o1', [placed('under k1')]);
      await writer.sync.syncNow();
      await holder.sync.syncNow();
      expect((await logOf(holder)).map((e) => e.position)).toEqual([1]);
      await holder.close();
      const rotated = await openClient(harness.url, { log, name, encryption: { keys: ONLY_K2 } });
      try {
        for (const n of [2, 3]) {
          await rotated.append(`o${n}`, [placed(`under k2 #${n}`)]);
          await rotated.sync.syncNow();
          expect(await rotated.sync.status()).toMatchObject({ state: 'online', pending: 0, confirmedPosition: n, lastError: null });
        }
        expect((await serverEvents(harness.url, log)).map(kidOf)).toEqual(['k1', 'k2', 'k2']);
        expect((await rotated.load(Order, 'o1')).state).toMatchObject({ customerId: 'under k1' });
      } finally {
        await rotated.dispose();
      }
    } finally {
      await writer.dispose();
    }
  });

  it('a client that has yet to pull an event under it stops there with unknown-key, storing and pushing nothing', async () => {
    const log = freshLog();
    const name = uniqueStoreName('enc-drop-behind');
    const writer = await openClient(harness.url, { log, encryption: { keys: K1 } });
    const behind = await openClient(harness.url, { log, name, encryption: { keys: K1 } });
    try {
      await writer.append('o1', [placed('first')]);
      await writer.sync.syncNow();
      await behind.sync.syncNow();
      await behind.close();
      await writer.append('o2', [placed('second, under k1')]);
      await writer.sync.syncNow();
      const second = (await serverEvents(harness.url, log))[1]!;
      const rotated = await openClient(harness.url, { log, name, encryption: { keys: ONLY_K2 } });
      const fresh = await openClient(harness.url, { log, encryption: { keys: ONLY_K2 } });
      try {
        await rotated.append('o3', [placed('waits')]);
        const error = await syncError(rotated);
        expect(error).toBeInstanceOf(EncryptionKeyError);
        expect(error).toMatchObject({ reason: 'unknown-key', keyId: 'k1', eventId: second.id, operation: 'pull' });
        expect(await rotated.sync.status()).toMatchObject({ confirmedPosition: 1, pending: 1 });
        expect(await serverEvents(harness.url, log)).toHaveLength(2);
        // A client that holds none of them fails at the first.
        expect(await syncError(fresh)).toMatchObject({ reason: 'unknown-key', keyId: 'k1' });
        expect(await logOf(fresh)).toEqual([]);
      } finally {
        await rotated.dispose();
        await fresh.dispose();
      }
    } finally {
      await writer.dispose();
    }
  });
});
