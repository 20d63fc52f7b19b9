import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Keyring } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
import { uniqueStoreName } from '../../src/testing/index.ts';
import { logOf, openClient, serverEvents, startServer, syncError, type Harness } from './harness.ts';

/**
 * Clients of a log must agree on hashAggregateIds (README "Encryption"). One that does not, or a store that
 * turns it on after syncing without it, would file an aggregate's events under two streams on the server
 * (the clear id and its hash) and read both into one: a pulled event whose clear aggregateId is not the one
 * its ciphertext names is refused with EncryptionKeyError `aggregate-id-mismatch`, nothing of its page is
 * stored, and nothing is pushed after it.
 */

const key = (fill: number) => new Uint8Array(32).fill(fill);
const RING: Keyring = { current: 'k1', keys: { k1: key(1) }, aggregateIdKey: key(9) };
const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });

let logs = 0;
const freshLog = () => `enc-ids-${Date.now().toString(36)}-${++logs}`;

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

describe('hashAggregateIds agreement', () => {
  it.each([
    ['the writer hashes, the reader does not', true],
    ['the writer does not hash, the reader does', false],
  ])('%s: the reader gets aggregate-id-mismatch, stores nothing of it and pushes nothing', async (_, writerHashes) => {
    const log = freshLog();
    const writer = await openClient(harness.url, { log, encryption: { keys: RING, hashAggregateIds: writerHashes } });
    const reader = await openClient(harness.url, { log, encryption: { keys: RING, hashAggregateIds: !writerHashes } });
    try {
      await writer.append('o1', [placed('from-writer')]);
      await writer.sync.syncNow();
      const [written] = await serverEvents(harness.url, log);
      await reader.append('o1', [placed('from-reader')]);
      const error = await syncError(reader);
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect(error).toMatchObject({ reason: 'aggregate-id-mismatch', eventId: written!.id, keyId: 'k1', operation: 'pull', log });
      expect((error as Error).message).toMatch(writerHashes ? /hashAggregateIds is off here/ : /hashAggregateIds is on here/);
      expect(await reader.sync.status()).toMatchObject({
        state: 'error',
        confirmedPosition: 0,
        pending: 1,
        lastError: { code: 'ENCRYPTION_KEY' },
      });
      expect((await logOf(reader)).map((e) => e.position)).toEqual([undefined]); // its own pending event only
      expect((await serverEvents(harness.url, log)).map((e) => e.id)).toEqual([written!.id]);
    } finally {
      await writer.dispose();
      await reader.dispose();
    }
  });

  it('a store that turns hashAggregateIds on after syncing without it gets aggregate-id-mismatch, not a push that never goes through', async () => {
    const log = freshLog();
    const name = uniqueStoreName('enc-ids-toggle');
    const before = await openClient(harness.url, { log, name, encryption: { keys: RING } });
    await before.append('o1', [placed('c1')]);
    await before.sync.syncNow();
    await before.close();
    const after = await openClient(harness.url, { log, name, encryption: { keys: RING, hashAggregateIds: true } });
    try {
      await after.append('o1', [{ type: 'ItemAdded', data: { sku: 's', qty: 1, price: 1 } }], { expectedVersion: 1 });
      const error = await syncError(after);
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect(error).toMatchObject({ reason: 'aggregate-id-mismatch', operation: 'pull' });
      expect((error as Error).message).toMatch(/hashAggregateIds is on here, and its clear aggregateId "o1" is no keyed hash/);
      expect(await after.sync.status()).toMatchObject({ pending: 1, confirmedPosition: 1, lastError: { code: 'ENCRYPTION_KEY' } });
      expect((await serverEvents(harness.url, log)).map((e) => [e.aggregateId, e.seq])).toEqual([['o1', 1]]);
    } finally {
      await after.dispose();
    }
  });
});
