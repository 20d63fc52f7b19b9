import { describe, expect, it } from 'vitest';
import { hashAggregateId, HASHED_ID_PREFIX, importKeyring, type WebCryptoKey } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';

/**
 * The aggregateIdKey is HMAC with SHA-256 (README "Encryption", docs/protocol.md "Hashed aggregate ids"):
 * given an HMAC CryptoKey for another hash, when the keyring is imported, then it is refused like any key
 * of the wrong algorithm (`keyring`), rather than hashing ids to another length than the format's and into
 * streams no other client of the log finds.
 */

const LOG = 'orders';
const hmacKey = async (hash: string) =>
  (await crypto.subtle.generateKey({ name: 'HMAC', hash, length: 256 }, false, ['sign'])) as unknown as WebCryptoKey;
const keyringWith = (aggregateIdKey: WebCryptoKey) => ({ current: 'k1', keys: { k1: new Uint8Array(32).fill(1) }, aggregateIdKey });

describe('aggregateIdKey hash', () => {
  it.each(['SHA-1', 'SHA-384', 'SHA-512'])(
    'an HMAC CryptoKey for %s is refused with reason keyring, naming the hash it must have',
    async (hash) => {
      const error = await importKeyring(keyringWith(await hmacKey(hash)), LOG).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect(error).toMatchObject({ reason: 'keyring', code: 'ENCRYPTION_KEY' });
      expect((error as Error).message).toMatch(new RegExp(`aggregateIdKey: an HMAC CryptoKey with hash ${hash}; it must be SHA-256`));
    },
  );

  it('an HMAC SHA-256 CryptoKey is taken, and hashes to h1: + 43 characters', async () => {
    const ring = await importKeyring(keyringWith(await hmacKey('SHA-256')), LOG);
    const hashed = await hashAggregateId(ring.aggregateIdKey!, LOG, 'order-1');
    expect(hashed).toMatch(new RegExp(`^${HASHED_ID_PREFIX}[A-Za-z0-9_-]{43}$`));
  });
});
