import { EncryptionKeyError, type EncryptionKeyFacts } from './errors.ts';
import type { EventMeta, StoredEvent } from './event.ts';
import { findIdProblem, findStringProblem, showName } from './text-rules.ts';
import { describeThrown } from './thrown.ts';
import { ENVELOPE_VERSION, isEncryptedEnvelope, type EncryptedEnvelope } from './envelope.ts';

/**
 * End-to-end encryption of event payloads (README "Encryption",
 * docs/protocol.md "Encrypted payloads"): the format of an encrypted event on
 * the wire and the rules that seal and open one. Platform-free: it uses only
 * WebCrypto's `crypto.subtle`, a global in browsers, workers and Node 20, and
 * declares the little of it that it needs (core names no platform types).
 *
 * On the wire an encrypted event keeps its clear fields (id, aggregateId,
 * aggregateType, seq, type, version, meta.occurredAt/clientId/clientSeq) and
 * carries, as `data`, an envelope
 *
 *     { "$enc": 1, "kid": "<key id>", "iv": "<base64url, 12 bytes>", "ct": "<base64url: ciphertext + 16-byte tag>" }
 *
 * AES-GCM over the UTF-8 JSON `{ "data": …, "correlationId"?: …, "causationId"?: …, "aggregateId"?: … }`
 * (the meta links are removed from the clear meta; `aggregateId` is inside only
 * when the clear one is a keyed hash), with the clear fields, the log and the
 * key id as additional authenticated data (`encryptionAad`), so a ciphertext
 * opens only as the event it was made for.
 */

export { ENVELOPE_VERSION, isEncryptedEnvelope, type EncryptedEnvelope } from './envelope.ts';
/** The first element of the additional authenticated data. */
export const AAD_LABEL = 'chronicle-enc/1';
/** The prefix of an aggregateId replaced by its keyed hash (hashAggregateIds). */
export const HASHED_ID_PREFIX = 'h1:';
const IV_BYTES = 12;
const TAG_BITS = 128;

/** A WebCrypto key (the platform's `CryptoKey`), as far as Chronicle looks at it. */
export interface WebCryptoKey {
  readonly type: string;
  readonly extractable: boolean;
  readonly algorithm: { readonly name: string };
  readonly usages: readonly string[];
}

/**
 * A key: a `CryptoKey`, or its raw bytes (16, 24 or 32 for AES-GCM; at least
 * 16 for the aggregate-id HMAC key), imported non-extractable.
 */
export type KeyMaterial = WebCryptoKey | ArrayBuffer | ArrayBufferView;

/**
 * The keys of one log. `keys` holds every key an event of the log may have
 * been encrypted with, by id (ids travel in clear with each event, so do not
 * put secrets in them); new events are encrypted with `keys[current]`. To
 * rotate, add a key and make it `current`; keep the old ones to read the
 * events written with them.
 */
export interface Keyring {
  /** The id of the key new events are encrypted with: 1-128 storable characters. */
  current: string;
  /** AES-GCM keys (CryptoKey with encrypt/decrypt, or 16/24/32 raw bytes) by id. */
  keys: Readonly<Record<string, KeyMaterial>>;
  /**
   * The HMAC-SHA-256 key (CryptoKey with `sign`, or at least 16 raw bytes) that
   * hashes aggregate ids when `hashAggregateIds` is on. Never rotate it: the
   * hash names the stream on the server, so a new key would start new streams.
   */
  aggregateIdKey?: KeyMaterial;
}

/** The part of the encryption options the engine gets as plain data. */
export interface EncryptionSettings {
  /**
   * Replace each event's aggregateId on the wire by a keyed hash of it
   * (`h1:` + base64url HMAC-SHA-256 of `["<log>","<aggregateId>"]`); the real
   * id travels inside the ciphertext and is restored on pull. Conflict
   * detection still works: the hash of an id is stable. Every client of a log
   * must agree on it. Default false.
   */
  hashAggregateIds?: boolean;
  /**
   * Store pulled events that are not encrypted (a log with history from
   * before encryption was turned on). Default false: a plaintext event is an
   * EncryptionKeyError (`not-encrypted`), as a server that cannot read the
   * payloads should not be able to write them either.
   */
  acceptPlaintext?: boolean;
}

/** `sync.encryption` in openStore. */
export interface EncryptionOptions extends EncryptionSettings {
  /**
   * The log's keyring, or a function returning it (called with the log's name
   * before each push and when a pulled event names a key not seen yet, so a
   * new key or a rotation is picked up without reopening the store). It runs
   * in the page; keys reach the engine's worker by structured clone, never the server.
   */
  keys: Keyring | ((log: string) => Keyring | Promise<Keyring>);
}

/** What an envelope's ciphertext decrypts to (UTF-8 JSON). */
export interface SealedPayload {
  data: unknown;
  correlationId?: string;
  causationId?: string;
  /** The real aggregateId, when the clear one is its keyed hash. */
  aggregateId?: string;
}

// ---------------------------------------------------------------- the platform's WebCrypto, as used here

interface AesGcmParams {
  name: 'AES-GCM';
  iv: Uint8Array;
  additionalData: Uint8Array;
  tagLength: number;
}
interface Subtle {
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: string; hash?: string },
    extractable: boolean,
    usages: string[],
  ): Promise<WebCryptoKey>;
  encrypt(algorithm: AesGcmParams, key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
  decrypt(algorithm: AesGcmParams, key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
  sign(algorithm: 'HMAC', key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
}
interface PlatformCrypto {
  subtle?: Subtle;
  getRandomValues(array: Uint8Array): Uint8Array;
}

function platformCrypto(facts: EncryptionKeyFacts): Required<PlatformCrypto> {
  const crypto = (globalThis as unknown as { crypto?: PlatformCrypto }).crypto;
  if (!crypto?.subtle) {
    throw new EncryptionKeyError('keyring', {
      ...facts,
      cause: 'WebCrypto (crypto.subtle) is not available here: a page needs a secure context (https or localhost)',
    });
  }
  return crypto as Required<PlatformCrypto>;
}

/** The platform's UTF-8 codecs (globals everywhere Chronicle runs), declared here as core names no platform types. */
interface PlatformText {
  TextEncoder: new () => { encode(text: string): Uint8Array };
  TextDecoder: new (label: string, options: { fatal: boolean }) => { decode(bytes: Uint8Array | ArrayBuffer): string };
}
const platformText = globalThis as unknown as PlatformText;
const utf8Encoder = new platformText.TextEncoder();
const utf8Decoder = new platformText.TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------- base64url (RFC 4648 §5, no padding)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function toBase64Url(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const whole = bytes.length - (bytes.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
    if (chunk.length >= 4096) {
      parts.push(chunk);
      chunk = '';
    }
  }
  const rest = bytes.length - whole;
  if (rest === 1) {
    const n = bytes[whole]! << 16;
    chunk += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[whole]! << 16) | (bytes[whole + 1]! << 8);
    chunk += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]!;
  }
  parts.push(chunk);
  return parts.join('');
}

/** The bytes of a base64url string (no padding), or undefined when it is not one. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, so each byte string has one spelling.
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

// ---------------------------------------------------------------- envelope

/** The clear fields of an event on the wire, as the additional authenticated data binds them. */
export type AadFields = Pick<StoredEvent, 'id' | 'aggregateId' | 'aggregateType' | 'seq' | 'type' | 'version'> & {
  meta: Pick<EventMeta, 'occurredAt' | 'clientId' | 'clientSeq'>;
};

/**
 * The additional authenticated data of an encrypted event: UTF-8 of the JSON
 * array `["chronicle-enc/1", log, kid, id, aggregateId, aggregateType, seq,
 * type, version, meta.occurredAt, meta.clientId, meta.clientSeq]`, with the
 * fields as they are on the wire (the hashed aggregateId when it is hashed).
 * The server stores and returns every one of them unchanged, so a ciphertext
 * moved to another event, aggregate, place in a stream or log does not open.
 */
export function encryptionAad(log: string, kid: string, event: AadFields): Uint8Array {
  const { meta } = event;
  return utf8Encoder.encode(
    JSON.stringify([
      AAD_LABEL,
      log,
      kid,
      event.id,
      event.aggregateId,
      event.aggregateType,
      event.seq,
      event.type,
      event.version,
      meta.occurredAt,
      meta.clientId,
      meta.clientSeq,
    ]),
  );
}

// ---------------------------------------------------------------- keys

/** A keyring with its keys imported: what sealing and opening use. */
export interface OpenKeyring {
  /** The id new events are encrypted with (it may name no key: pushing then fails with `no-current-key`). */
  readonly current: string;
  readonly keys: ReadonlyMap<string, WebCryptoKey>;
  readonly aggregateIdKey: WebCryptoKey | undefined;
}

/** Keys imported from raw bytes, reused while the bytes stay the same (importing is not free). */
export type KeyImportCache = Map<string, { bytes: Uint8Array; key: WebCryptoKey }>;

function isWebCryptoKey(value: unknown): value is WebCryptoKey {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<WebCryptoKey>;
  return typeof v.type === 'string' && typeof v.algorithm === 'object' && v.algorithm !== null && Array.isArray(v.usages);
}

function rawBytes(value: unknown): Uint8Array | undefined {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (Object.prototype.toString.call(value) === '[object ArrayBuffer]') return new Uint8Array((value as ArrayBuffer).slice(0));
  return undefined;
}

/** The hash an HMAC CryptoKey is for (`algorithm.hash.name`, as WebCrypto's HmacKeyAlgorithm has it), upper case. */
function hashNameOf(key: WebCryptoKey): string | undefined {
  const hash: unknown = (key.algorithm as { hash?: unknown }).hash;
  const name: unknown = typeof hash === 'object' && hash !== null ? (hash as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name.toUpperCase() : undefined;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

async function importOne(
  subtle: Subtle,
  material: unknown,
  what: string,
  kind: 'aes' | 'hmac',
  cache: KeyImportCache,
  cacheKey: string,
  facts: EncryptionKeyFacts,
): Promise<WebCryptoKey> {
  const fail = (cause: string): never => {
    throw new EncryptionKeyError('keyring', { ...facts, cause: `${what}: ${cause}` });
  };
  if (isWebCryptoKey(material)) {
    const name = material.algorithm.name.toUpperCase();
    if (kind === 'aes' && name !== 'AES-GCM') fail(`a CryptoKey for ${material.algorithm.name}; it must be AES-GCM`);
    if (kind === 'hmac' && name !== 'HMAC') fail(`a CryptoKey for ${material.algorithm.name}; it must be HMAC (SHA-256)`);
    // Another hash would make ids of another length than the format's (h1: + 43 characters) and streams no other client finds.
    const hash = hashNameOf(material);
    if (kind === 'hmac' && hash !== 'SHA-256') fail(`an HMAC CryptoKey with hash ${hash ?? '(none)'}; it must be SHA-256`);
    // Every key must open what it sealed (an encrypt-only key would push events this client can never read back).
    const needed = kind === 'aes' ? 'decrypt' : 'sign';
    if (!material.usages.includes(needed)) fail(`a CryptoKey without the "${needed}" usage (it has ${JSON.stringify(material.usages)})`);
    return material;
  }
  const bytes = rawBytes(material);
  if (!bytes) return fail('not a CryptoKey, ArrayBuffer or typed array');
  if (kind === 'aes' && ![16, 24, 32].includes(bytes.length)) fail(`${bytes.length} bytes; an AES-GCM key is 16, 24 or 32`);
  if (kind === 'hmac' && bytes.length < 16) fail(`${bytes.length} bytes; the HMAC key needs at least 16`);
  const known = cache.get(cacheKey);
  if (known && sameBytes(known.bytes, bytes)) return known.key;
  try {
    const key =
      kind === 'aes'
        ? await subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
        : await subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    cache.set(cacheKey, { bytes, key });
    return key;
  } catch (error) {
    return fail(describeThrown(error));
  }
}

/**
 * Checks a keyring's shape and imports its raw keys. Throws
 * EncryptionKeyError (`keyring`) naming what is wrong.
 */
export async function importKeyring(keyring: unknown, log: string, cache: KeyImportCache = new Map()): Promise<OpenKeyring> {
  const facts: EncryptionKeyFacts = { log };
  const fail = (cause: string): never => {
    throw new EncryptionKeyError('keyring', { ...facts, cause });
  };
  if (typeof keyring !== 'object' || keyring === null) return fail('the keys option gave no keyring object ({ current, keys })');
  const ring = keyring as Partial<Keyring>;
  const currentProblem = findIdProblem(ring.current);
  if (currentProblem) fail(`keyring.current ${currentProblem}`);
  if (typeof ring.keys !== 'object' || ring.keys === null) fail('keyring.keys must be an object of keys by id');
  const { subtle } = platformCrypto(facts);
  const keys = new Map<string, WebCryptoKey>();
  for (const [id, material] of Object.entries(ring.keys!)) {
    const idProblem = findIdProblem(id);
    if (idProblem) fail(`key id ${JSON.stringify(id)} ${idProblem}`);
    keys.set(id, await importOne(subtle, material, `key "${id}"`, 'aes', cache, `aes:${id}`, facts));
  }
  const aggregateIdKey =
    ring.aggregateIdKey === undefined
      ? undefined
      : await importOne(subtle, ring.aggregateIdKey, 'aggregateIdKey', 'hmac', cache, 'hmac', facts);
  const current = keys.get(ring.current!);
  if (current && isWebCryptoKey(current) && !current.usages.includes('encrypt')) {
    fail(`key "${ring.current}" is current but its CryptoKey lacks the "encrypt" usage`);
  }
  return { current: ring.current!, keys, aggregateIdKey };
}

/** The wire form of an aggregateId under hashAggregateIds: `h1:` + base64url(HMAC-SHA-256(key, UTF-8 of JSON `[log, aggregateId]`)). */
export async function hashAggregateId(
  key: WebCryptoKey,
  log: string,
  aggregateId: string,
  operation: 'push' | 'pull' = 'push',
): Promise<string> {
  const { subtle } = platformCrypto({ log, operation });
  try {
    const mac = await subtle.sign('HMAC', key, utf8Encoder.encode(JSON.stringify([log, aggregateId])));
    return HASHED_ID_PREFIX + toBase64Url(new Uint8Array(mac));
  } catch (error) {
    throw new EncryptionKeyError('keyring', { log, operation, cause: `aggregateIdKey: ${describeThrown(error)}` });
  }
}

// ---------------------------------------------------------------- seal and open

/**
 * The wire form of an event: `data`, `meta.correlationId` and
 * `meta.causationId` (and the aggregateId, when `wireAggregateId` is its
 * hash) sealed with `key` into an envelope; every other field in clear.
 */
export async function sealEvent(
  event: StoredEvent,
  log: string,
  key: { id: string; key: WebCryptoKey },
  wireAggregateId?: string,
): Promise<StoredEvent> {
  const facts: EncryptionKeyFacts = { log, operation: 'push', keyId: key.id, eventId: event.id };
  const crypto = platformCrypto(facts);
  const { correlationId, causationId, ...clearMeta } = event.meta;
  const payload: SealedPayload = { data: event.data };
  if (correlationId !== undefined) payload.correlationId = correlationId;
  if (causationId !== undefined) payload.causationId = causationId;
  if (wireAggregateId !== undefined) payload.aggregateId = event.aggregateId;
  const wire: StoredEvent = { ...event, aggregateId: wireAggregateId ?? event.aggregateId, meta: clearMeta };
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  let sealed: ArrayBuffer;
  try {
    sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encryptionAad(log, key.id, wire), tagLength: TAG_BITS },
      key.key,
      utf8Encoder.encode(JSON.stringify(payload)),
    );
  } catch (error) {
    throw new EncryptionKeyError('keyring', { ...facts, cause: `key "${key.id}" cannot encrypt: ${describeThrown(error)}` });
  }
  const envelope: EncryptedEnvelope = { $enc: ENVELOPE_VERSION, kid: key.id, iv: toBase64Url(iv), ct: toBase64Url(new Uint8Array(sealed)) };
  wire.data = envelope;
  return wire;
}

const SEALED_FIELDS: ReadonlySet<string> = new Set(['data', 'correlationId', 'causationId', 'aggregateId']);

/**
 * What is wrong with what a ciphertext decrypted to, or undefined. The answer goes into error messages,
 * status().lastError (persisted) and logs, so it names only the format's own fields and counts: never
 * anything decrypted (an unknown field's name, a value), which is the app's plaintext.
 */
function checkPayload(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it decrypts to no JSON object';
  const p = value as Record<string, unknown>;
  if (!('data' in p)) return 'it decrypts to an object without data';
  const unknown = Object.keys(p).filter((key) => !SEALED_FIELDS.has(key)).length;
  if (unknown > 0)
    return `it decrypts to an object with ${unknown} field${unknown === 1 ? '' : 's'} besides data, correlationId, causationId and aggregateId`;
  for (const key of ['correlationId', 'causationId', 'aggregateId'] as const) {
    if (!(key in p)) continue;
    const problem =
      key === 'aggregateId' ? findIdProblem(p[key]) : typeof p[key] === 'string' ? findStringProblem(p[key]) : 'must be a string';
    if (problem) return `${key} ${problem}`;
  }
  return undefined;
}

/**
 * How a log's clear aggregateIds are written: as they are, or (hashAggregateIds) as keyed hashes, which
 * `hash` makes (hashAggregateId with the keyring's aggregateIdKey).
 */
export type ClearAggregateIds = { hashed: false } | { hashed: true; hash: (aggregateId: string) => Promise<string> };

/**
 * Why an opened event's clear aggregateId (`clear`, what the server files it under) is not the one its
 * ciphertext names (`sealed`, absent when the clear one is the real id), or undefined when it is. Without
 * this a client that hashes and one that does not (or a store that turned hashing on, or a key holder
 * writing a wrong id inside) would split one aggregate into two streams on the server, each client
 * reading the other's events into its own. The reason names the clear id (the server has it) and never
 * the sealed one (plaintext).
 */
async function clearIdProblem(clear: string, sealed: string | undefined, ids: ClearAggregateIds): Promise<string | undefined> {
  // Quoted as JSON (a valid id), or as showName shows an invalid one (quoted, cut), or a value that is no string.
  const shown = findIdProblem(clear) === undefined ? JSON.stringify(clear) : showName(clear);
  if (!ids.hashed) {
    if (sealed === undefined || sealed === clear) return undefined;
    return `hashAggregateIds is off here, and its ciphertext names another aggregateId than its clear one, ${shown} (written by a client with hashAggregateIds on?)`;
  }
  if (sealed === undefined) {
    return `hashAggregateIds is on here, and its clear aggregateId ${shown} is no keyed hash of an id in its ciphertext (written by a client with hashAggregateIds off?)`;
  }
  if ((await ids.hash(sealed)) === clear) return undefined;
  return `hashAggregateIds is on here, and its clear aggregateId ${shown} is not h1: + the keyed hash of the id its ciphertext names (another aggregateIdKey, or a forged event?)`;
}

/**
 * The event as it was before sealEvent, from its wire form. `keyFor` gives the
 * key of an id, or undefined; `ids` says how the log's clear aggregateIds are
 * written, which the clear one must match (clearIdProblem). Throws
 * EncryptionKeyError: `not-encrypted`, `unknown-key`, `malformed`,
 * `decrypt-failed` or `aggregate-id-mismatch`.
 */
export async function openEvent(
  event: StoredEvent,
  log: string,
  keyFor: (kid: string) => WebCryptoKey | undefined,
  ids: ClearAggregateIds = { hashed: false },
): Promise<StoredEvent> {
  const envelope = event.data;
  const facts: EncryptionKeyFacts = { log, operation: 'pull', eventId: event.id };
  if (!isEncryptedEnvelope(envelope)) throw new EncryptionKeyError('not-encrypted', facts);
  facts.keyId = envelope.kid;
  const key = keyFor(envelope.kid);
  if (!key) throw new EncryptionKeyError('unknown-key', facts);
  const iv = fromBase64Url(envelope.iv);
  const sealed = fromBase64Url(envelope.ct);
  if (!iv || iv.length !== IV_BYTES)
    throw new EncryptionKeyError('malformed', { ...facts, cause: `iv must be ${IV_BYTES} bytes of base64url` });
  if (!sealed || sealed.length < TAG_BITS / 8)
    throw new EncryptionKeyError('malformed', { ...facts, cause: 'ct must be base64url of at least the 16-byte tag' });
  const { subtle } = platformCrypto(facts);
  let plain: ArrayBuffer;
  try {
    plain = await subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: encryptionAad(log, envelope.kid, event), tagLength: TAG_BITS },
      key,
      sealed,
    );
  } catch {
    throw new EncryptionKeyError('decrypt-failed', facts);
  }
  let text: string;
  try {
    text = utf8Decoder.decode(plain);
  } catch {
    throw new EncryptionKeyError('malformed', { ...facts, cause: 'it decrypts to bytes that are not UTF-8' });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the start of the text, which is the decrypted plaintext.
    throw new EncryptionKeyError('malformed', { ...facts, cause: 'it decrypts to text that is not JSON' });
  }
  const problem = checkPayload(payload);
  if (problem) throw new EncryptionKeyError('malformed', { ...facts, cause: problem });
  const { data, correlationId, causationId, aggregateId } = payload as SealedPayload;
  const mismatch = await clearIdProblem(event.aggregateId, aggregateId, ids);
  if (mismatch) throw new EncryptionKeyError('aggregate-id-mismatch', { ...facts, cause: mismatch });
  // Only the links inside the ciphertext count: clear ones on an encrypted event are not authenticated.
  const { occurredAt, clientId, clientSeq } = event.meta;
  const meta: EventMeta = { occurredAt, clientId, clientSeq };
  if (correlationId !== undefined) meta.correlationId = correlationId;
  if (causationId !== undefined) meta.causationId = causationId;
  return { ...event, aggregateId: aggregateId ?? event.aggregateId, data, meta };
}
