import { describe, expect, it } from 'vitest';
import { encryptionAad, importKeyring, openEvent, toBase64Url, type WebCryptoKey } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';

/**
 * An encrypted event that opens (the key is right, the ciphertext authentic) but holds something other
 * than the documented plaintext is `malformed`; the error's message and facts end up in
 * status().lastError (persisted) and in logs, so they say what is wrong without any of the decrypted
 * content: not the parser's message (it quotes the text), not the names of unknown fields.
 */

const LOG = 'orders';
const SECRET = 'Ada-Lovelace-12-Marker-Street';

const clear: StoredEvent = {
  id: 'e-1',
  aggregateId: 'order-1',
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: null,
  meta: { occurredAt: 1, clientId: 'client-a', clientSeq: 1 },
  position: 1,
};

interface Subtle {
  encrypt(algorithm: object, key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
}

/** An event whose ciphertext (made with the right key and additional data) holds `plain` as it is. */
async function sealedRaw(key: WebCryptoKey, plain: Uint8Array): Promise<StoredEvent> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const subtle = crypto.subtle as unknown as Subtle;
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encryptionAad(LOG, 'k1', clear), tagLength: 128 }, key, plain);
  return { ...clear, data: { $enc: 1, kid: 'k1', iv: toBase64Url(iv), ct: toBase64Url(new Uint8Array(ct)) } };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('malformed plaintext', () => {
  it.each([
    ['text that is not JSON', text(`customer: ${SECRET}`), /decrypts to text that is not JSON$/],
    ['JSON that is not an object', text(`"${SECRET}"`), /decrypts to no JSON object$/],
    ['an unknown field', text(`{"data":1,"${SECRET}":"x"}`), /decrypts to an object with 1 field besides data/],
    ['two unknown fields', text(`{"data":1,"note-${SECRET}":1,"${SECRET}":2}`), /an object with 2 fields besides data/],
    ['a link with a NUL', text(`{"data":{"card":"${SECRET}"},"correlationId":"${SECRET}\\u0000"}`), /correlationId contains a NUL/],
    ['bytes that are not UTF-8', Uint8Array.of(...text(SECRET), 0xff, 0xfe), /decrypts to bytes that are not UTF-8$/],
  ])('%s: malformed, and neither the message nor the facts quote the plaintext', async (_, plain, message) => {
    const ring = await importKeyring({ current: 'k1', keys: { k1: new Uint8Array(32).fill(1) } }, LOG);
    const error = await openEvent(await sealedRaw(ring.keys.get('k1')!, plain), LOG, (kid) => ring.keys.get(kid)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EncryptionKeyError);
    expect(error).toMatchObject({ reason: 'malformed', eventId: 'e-1', keyId: 'k1' });
    const shown = JSON.stringify({ message: (error as Error).message, details: (error as EncryptionKeyError).details });
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('customer');
    expect(shown).not.toContain('note-');
    expect((error as Error).message).toMatch(message);
  });
});
