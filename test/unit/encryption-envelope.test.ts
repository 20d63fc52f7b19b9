import { describe, expect, it } from 'vitest';
import {
  encryptionAad,
  fromBase64Url,
  hashAggregateId,
  HASHED_ID_PREFIX,
  importKeyring,
  isEncryptedEnvelope,
  openEvent,
  sealEvent,
  toBase64Url,
  type OpenKeyring,
  type WebCryptoKey,
} from '../../src/core/encryption.ts';
import { EncryptionKeyError, errorFromJSON, type EncryptionKeyReason } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { storedEventSchema } from '../../src/core/schemas.ts';
import { isValidId } from '../../src/core/text-rules.ts';

/**
 * The envelope format and its rules (src/core/encryption.ts), without storage
 * or network: given an event and a keyring, when it is sealed and opened (or
 * tampered with), then this.
 */

const LOG = 'orders';
const MARKER = 'Ada Lovelace, 12 Marker Street';
const bytes = (fill: number, length = 32) => new Uint8Array(length).fill(fill);

const event = (over: Partial<StoredEvent> = {}): StoredEvent => ({
  id: '0190a1b2-0000-7000-8000-000000000001',
  aggregateId: 'order-1',
  aggregateType: 'Order',
  seq: 3,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: MARKER, amount: 42.5 },
  meta: { occurredAt: 1_732_350_000_000, clientId: 'client-a', clientSeq: 7, correlationId: 'corr-secret', causationId: 'cause-secret' },
  ...over,
});

async function ring(keys: Record<string, number>, current = Object.keys(keys)[0]!, idKey?: number): Promise<OpenKeyring> {
  return importKeyring(
    {
      current,
      keys: Object.fromEntries(Object.entries(keys).map(([id, fill]) => [id, bytes(fill)])),
      ...(idKey === undefined ? {} : { aggregateIdKey: bytes(idKey) }),
    },
    LOG,
  );
}

const keyOf = (r: OpenKeyring, id = r.current) => ({ id, key: r.keys.get(id)! });

async function reasonOf(promise: Promise<unknown>): Promise<EncryptionKeyReason> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EncryptionKeyError);
  return (error as EncryptionKeyError).reason;
}

describe('sealing an event', () => {
  it('leaves the clear fields as they were and puts data and the meta links into an envelope: no plaintext on the wire', async () => {
    const keys = await ring({ k1: 1 });
    const wire = await sealEvent(event(), LOG, keyOf(keys));
    const text = JSON.stringify(wire);
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain('corr-secret');
    expect(text).not.toContain('cause-secret');
    expect(wire).toMatchObject({ id: event().id, aggregateId: 'order-1', aggregateType: 'Order', seq: 3, type: 'OrderPlaced', version: 1 });
    expect(wire.meta).toEqual({ occurredAt: 1_732_350_000_000, clientId: 'client-a', clientSeq: 7 });
    expect(isEncryptedEnvelope(wire.data)).toBe(true);
    const envelope = wire.data as { $enc: number; kid: string; iv: string; ct: string };
    expect(Object.keys(envelope).sort()).toEqual(['$enc', 'ct', 'iv', 'kid']);
    expect(envelope).toMatchObject({ $enc: 1, kid: 'k1' });
    expect(fromBase64Url(envelope.iv)).toHaveLength(12);
    // The server's own schema accepts it as it is (strict meta, storable strings).
    expect(storedEventSchema.safeParse(wire).success).toBe(true);
  });

  it('draws a new random IV for every event: the same event sealed twice gives two ciphertexts', async () => {
    const keys = await ring({ k1: 1 });
    const [a, b] = [await sealEvent(event(), LOG, keyOf(keys)), await sealEvent(event(), LOG, keyOf(keys))];
    const [ea, eb] = [a.data as { iv: string; ct: string }, b.data as { iv: string; ct: string }];
    expect(ea.iv).not.toBe(eb.iv);
    expect(ea.ct).not.toBe(eb.ct);
  });

  it('opens back to exactly the event it was made from (links restored, position kept)', async () => {
    const keys = await ring({ k1: 1 });
    const original = event();
    const wire = await sealEvent(original, LOG, keyOf(keys));
    const opened = await openEvent({ ...wire, position: 9 }, LOG, (kid) => keys.keys.get(kid));
    expect(opened).toEqual({ ...original, position: 9 });
  });

  it('keeps absent links absent', async () => {
    const keys = await ring({ k1: 1 });
    const original = event({ meta: { occurredAt: 1, clientId: 'c', clientSeq: 1 } });
    const opened = await openEvent(await sealEvent(original, LOG, keyOf(keys)), LOG, (kid) => keys.keys.get(kid));
    expect(opened.meta).toEqual({ occurredAt: 1, clientId: 'c', clientSeq: 1 });
    expect('correlationId' in opened.meta).toBe(false);
  });

  it('drops clear meta links added to an encrypted event: only the ones inside the ciphertext count', async () => {
    const keys = await ring({ k1: 1 });
    const wire = await sealEvent(event({ meta: { occurredAt: 1, clientId: 'c', clientSeq: 1 } }), LOG, keyOf(keys));
    const opened = await openEvent({ ...wire, meta: { ...wire.meta, correlationId: 'injected' } }, LOG, (kid) => keys.keys.get(kid));
    expect(opened.meta.correlationId).toBeUndefined();
  });
});

describe('the additional authenticated data binds a ciphertext to its event', () => {
  const tampered: [string, (wire: StoredEvent) => StoredEvent, string?][] = [
    ['another id', (w) => ({ ...w, id: 'other-id' })],
    ['another aggregate', (w) => ({ ...w, aggregateId: 'order-2' })],
    ['another aggregate type', (w) => ({ ...w, aggregateType: 'Invoice' })],
    ['another seq', (w) => ({ ...w, seq: 4 })],
    ['another type', (w) => ({ ...w, type: 'OrderShipped' })],
    ['another version', (w) => ({ ...w, version: 2 })],
    ['another occurredAt', (w) => ({ ...w, meta: { ...w.meta, occurredAt: 5 } })],
    ['another clientId', (w) => ({ ...w, meta: { ...w.meta, clientId: 'client-b' } })],
    ['another clientSeq', (w) => ({ ...w, meta: { ...w.meta, clientSeq: 8 } })],
    ['another log', (w) => w, 'other-log'],
  ];
  for (const [what, change, log] of tampered) {
    it(`a ciphertext does not open with ${what}`, async () => {
      const keys = await ring({ k1: 1 });
      const wire = await sealEvent(event(), LOG, keyOf(keys));
      expect(await reasonOf(openEvent(change(wire), log ?? LOG, (kid) => keys.keys.get(kid)))).toBe('decrypt-failed');
    });
  }

  it('swapping the envelopes of two events makes both fail to open', async () => {
    const keys = await ring({ k1: 1 });
    const one = await sealEvent(event(), LOG, keyOf(keys));
    const two = await sealEvent(
      event({ id: '0190a1b2-0000-7000-8000-000000000002', seq: 4, data: { customerId: 'someone else' } }),
      LOG,
      keyOf(keys),
    );
    const swapped = [
      { ...one, data: two.data },
      { ...two, data: one.data },
    ];
    for (const e of swapped) expect(await reasonOf(openEvent(e, LOG, (kid) => keys.keys.get(kid)))).toBe('decrypt-failed');
    // Unswapped they open.
    expect((await openEvent(two, LOG, (kid) => keys.keys.get(kid))).data).toEqual({ customerId: 'someone else' });
  });

  it('is the documented JSON array of the clear fields', () => {
    const aad = new TextDecoder().decode(encryptionAad(LOG, 'k1', event()));
    expect(JSON.parse(aad)).toEqual([
      'chronicle-enc/1',
      LOG,
      'k1',
      event().id,
      'order-1',
      'Order',
      3,
      'OrderPlaced',
      1,
      1_732_350_000_000,
      'client-a',
      7,
    ]);
  });
});

describe('opening with the wrong keys', () => {
  it('a key id the keyring lacks is unknown-key, naming the key and the event', async () => {
    const wire = await sealEvent(event(), LOG, keyOf(await ring({ k1: 1 })));
    const other = await ring({ k2: 2 });
    const error = await openEvent(wire, LOG, (kid) => other.keys.get(kid)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EncryptionKeyError);
    expect(error).toMatchObject({
      code: 'ENCRYPTION_KEY',
      reason: 'unknown-key',
      keyId: 'k1',
      eventId: event().id,
      log: LOG,
      operation: 'pull',
    });
  });

  it('the right id with other key bytes is decrypt-failed', async () => {
    const wire = await sealEvent(event(), LOG, keyOf(await ring({ k1: 1 })));
    const impostor = await ring({ k1: 9 });
    expect(await reasonOf(openEvent(wire, LOG, (kid) => impostor.keys.get(kid)))).toBe('decrypt-failed');
  });

  it('a plaintext event is not-encrypted; a broken envelope is malformed', async () => {
    const keys = await ring({ k1: 1 });
    const lookup = (kid: string) => keys.keys.get(kid);
    expect(await reasonOf(openEvent(event(), LOG, lookup))).toBe('not-encrypted');
    const wire = await sealEvent(event(), LOG, keyOf(keys));
    const envelope = wire.data as Record<string, unknown>;
    expect(await reasonOf(openEvent({ ...wire, data: { ...envelope, iv: 'AAAA' } }, LOG, lookup))).toBe('malformed');
    expect(await reasonOf(openEvent({ ...wire, data: { ...envelope, ct: 'not base64!' } }, LOG, lookup))).toBe('malformed');
  });
});

describe('the envelope test', () => {
  it('takes only the exact shape: $enc 1 and string kid, iv, ct, nothing else', () => {
    const ok = { $enc: 1, kid: 'k', iv: 'AAAAAAAAAAAAAAAA', ct: 'AAAA' };
    expect(isEncryptedEnvelope(ok)).toBe(true);
    expect(isEncryptedEnvelope({ ...ok, extra: 1 })).toBe(false);
    expect(isEncryptedEnvelope({ ...ok, $enc: 2 })).toBe(false);
    expect(isEncryptedEnvelope({ ...ok, kid: 5 })).toBe(false);
    expect(isEncryptedEnvelope([ok])).toBe(false);
    expect(isEncryptedEnvelope(null)).toBe(false);
    expect(isEncryptedEnvelope({ sku: 'tea' })).toBe(false);
  });
});

describe('keyrings', () => {
  it('imports raw 16-, 24- and 32-byte AES keys and AES-GCM CryptoKeys', async () => {
    const cryptoKey = (await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
      'encrypt',
      'decrypt',
    ])) as unknown as WebCryptoKey;
    const r = await importKeyring({ current: 'a', keys: { a: bytes(1, 16), b: bytes(2, 24), c: bytes(3, 32).buffer, d: cryptoKey } }, LOG);
    expect([...r.keys.keys()]).toEqual(['a', 'b', 'c', 'd']);
    const wire = await sealEvent(event(), LOG, { id: 'd', key: r.keys.get('d')! });
    expect((await openEvent(wire, LOG, (kid) => r.keys.get(kid))).data).toEqual(event().data);
  });

  it('refuses what is no keyring with reason keyring and says why', async () => {
    const hmac = (await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])) as unknown as WebCryptoKey;
    const aesWith = async (usages: ('encrypt' | 'decrypt')[]) =>
      (await crypto.subtle.importKey('raw', bytes(4, 32), { name: 'AES-GCM' }, false, usages)) as unknown as WebCryptoKey;
    const verifyOnly = (await crypto.subtle.importKey('raw', bytes(5, 32), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'verify',
    ])) as unknown as WebCryptoKey;
    const cases: [unknown, RegExp][] = [
      // An encrypt-only key would push events this client cannot read back; a decrypt-only one cannot be current.
      [{ current: 'a', keys: { a: await aesWith(['encrypt']) } }, /without the "decrypt" usage/],
      [{ current: 'a', keys: { a: await aesWith(['decrypt']) } }, /lacks the "encrypt" usage/],
      [{ current: 'a', keys: { a: bytes(1) }, aggregateIdKey: verifyOnly }, /without the "sign" usage/],
      [undefined, /no keyring object/],
      [{ keys: { a: bytes(1) } }, /keyring.current/],
      [{ current: 'a' }, /keyring.keys/],
      [{ current: 'a', keys: { a: bytes(1, 10) } }, /10 bytes/],
      [{ current: 'a', keys: { a: 'secret' } }, /not a CryptoKey/],
      [{ current: 'a', keys: { a: hmac } }, /must be AES-GCM/],
      [{ current: 'a', keys: { '': bytes(1) } }, /key id/],
      [{ current: 'a', keys: { a: bytes(1) }, aggregateIdKey: bytes(1, 8) }, /at least 16/],
    ];
    for (const [keyring, message] of cases) {
      const error = await importKeyring(keyring, LOG).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect((error as EncryptionKeyError).reason).toBe('keyring');
      expect((error as EncryptionKeyError).message).toMatch(message);
    }
  });
});

describe('hashed aggregate ids', () => {
  it('are stable for one key and log, differ across logs and keys, and are valid ids', async () => {
    const k = (await ring({ k1: 1 }, 'k1', 7)).aggregateIdKey!;
    const k2 = (await ring({ k1: 1 }, 'k1', 8)).aggregateIdKey!;
    const h = await hashAggregateId(k, LOG, 'order-1');
    expect(await hashAggregateId(k, LOG, 'order-1')).toBe(h);
    expect(await hashAggregateId(k, 'other-log', 'order-1')).not.toBe(h);
    expect(await hashAggregateId(k2, LOG, 'order-1')).not.toBe(h);
    expect(await hashAggregateId(k, LOG, 'order-2')).not.toBe(h);
    expect(h.startsWith(HASHED_ID_PREFIX)).toBe(true);
    expect(h).toHaveLength(HASHED_ID_PREFIX.length + 43);
    expect(isValidId(h)).toBe(true);
  });

  it('travel in clear while the real id is sealed inside and restored on opening', async () => {
    const keys = await ring({ k1: 1 }, 'k1', 7);
    const hashed = await hashAggregateId(keys.aggregateIdKey!, LOG, 'order-1');
    const wire = await sealEvent(event(), LOG, keyOf(keys), hashed);
    expect(wire.aggregateId).toBe(hashed);
    expect(JSON.stringify(wire)).not.toContain('order-1');
    const hashedIds = { hashed: true, hash: (id: string) => hashAggregateId(keys.aggregateIdKey!, LOG, id) } as const;
    expect((await openEvent(wire, LOG, (kid) => keys.keys.get(kid), hashedIds)).aggregateId).toBe('order-1');
  });
});

describe('base64url', () => {
  it('round-trips every length and refuses non-canonical or foreign text', () => {
    for (let n = 0; n < 40; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const text = toBase64Url(data);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(fromBase64Url(text)).toEqual(data);
    }
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
    expect(fromBase64Url('AB')).toBeUndefined(); // leftover bits set
    expect(fromBase64Url('A')).toBeUndefined();
    expect(fromBase64Url('AA==')).toBeUndefined();
    expect(fromBase64Url('A+')).toBeUndefined();
  });
});

describe('EncryptionKeyError', () => {
  it('crosses a JSON boundary as the same class with its facts', () => {
    const error = new EncryptionKeyError('unknown-key', { log: LOG, operation: 'pull', keyId: 'k1', eventId: 'e1' });
    const back = errorFromJSON(JSON.parse(JSON.stringify(error.toJSON())));
    expect(back).toBeInstanceOf(EncryptionKeyError);
    expect(back).toMatchObject({
      code: 'ENCRYPTION_KEY',
      name: 'EncryptionKeyError',
      reason: 'unknown-key',
      keyId: 'k1',
      eventId: 'e1',
      log: LOG,
      operation: 'pull',
    });
    expect(back.message).toBe(error.message);
    expect(error.message).toBe(`Cannot pull from log "orders": event e1 was encrypted with key "k1", which is not in the keyring`);
  });
});
