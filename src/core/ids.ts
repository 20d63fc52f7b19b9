/**
 * UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then randomness. Ids made by
 * one generator are strictly increasing, even within one millisecond (the 12-bit
 * rand_a field is used as a counter), which lets the engine check for duplicate
 * ids with one range probe instead of one lookup per id.
 */
let lastMs = -1;
let counter = 0;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => hex(i, 2));

// Random bytes are drawn from the platform in blocks: one getRandomValues call
// per id cost more than the rest of an id (a local batch of 100k appends spent
// ~0.4 s in it). Ids need to be unique, not secret; the bytes are used once.
const POOL_BYTES = 4096;

/** The one platform API ids need: Web Crypto's getRandomValues (browsers, workers, Node ≥ 19). Core declares no platform types. */
interface RandomSource {
  getRandomValues(array: Uint8Array): Uint8Array;
}
const platformCrypto = (): RandomSource => (globalThis as unknown as { crypto: RandomSource }).crypto;
const pool = new Uint8Array(POOL_BYTES);
let poolAt = POOL_BYTES;

function randomBytes(count: number): number {
  if (poolAt + count > POOL_BYTES) {
    platformCrypto().getRandomValues(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += count;
  return at;
}

/** The "xxxxxxxx-xxxx-" start of the ids of the last millisecond used (ids of one batch share it). */
let prefixMs = -1;
let prefix = '';

export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next one.
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  if (ms !== prefixMs) {
    const timeHex = hex(Math.floor(ms / 0x10000), 8) + hex(ms % 0x10000, 4);
    prefix = `${timeHex.slice(0, 8)}-${timeHex.slice(8, 12)}-`;
    prefixMs = ms;
  }
  const at = randomBytes(8);
  const randA = 0x7000 | counter;
  const b = pool;
  return (
    `${prefix}${BYTE_HEX[randA >> 8]!}${BYTE_HEX[randA & 0xff]!}-${BYTE_HEX[0x80 | (b[at]! & 0x3f)]!}${BYTE_HEX[b[at + 1]!]!}-` +
    `${BYTE_HEX[b[at + 2]!]!}${BYTE_HEX[b[at + 3]!]!}${BYTE_HEX[b[at + 4]!]!}${BYTE_HEX[b[at + 5]!]!}${BYTE_HEX[b[at + 6]!]!}${BYTE_HEX[b[at + 7]!]!}`
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
