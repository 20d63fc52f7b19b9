/**
 * UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then randomness. Ids made by
 * one generator are strictly increasing, even within one millisecond (the 12-bit
 * rand_a field is used as a counter), which lets the engine check for duplicate
 * ids with one range probe instead of one lookup per id.
 */
let lastMs = -1;
let counter = 0;

const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * The character codes of the id being made, rewritten for each id and turned
 * into one string at the end. Concatenating ~20 pieces instead made a tree of
 * intermediate strings per id that had to be flattened and collected later
 * (batch-append's bench: 552-630 ms before this, 434-521 ms after).
 */
const chars: number[] = Array.from({ length: 36 }, () => 0x2d); // '-' where no digit goes
/** The millisecond whose digits are in chars[0..12] (ids of one batch share it). */
let charsMs = -1;

/** Writes the `digits` lowest hex digits of `value` (an unsigned 32-bit integer) into chars from `at`. */
function writeHex(value: number, at: number, digits: number): void {
  let rest = value >>> 0;
  for (let i = at + digits - 1; i >= at; i--) {
    chars[i] = HEX_CODES[rest & 15]!;
    rest >>>= 4;
  }
}

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

/** The largest timestamp 48 bits hold (the year 10889). */
const MAX_MS = 2 ** 48 - 1;

export function uuidv7(now: number = Date.now()): string {
  // A device clock set before 1970 (or a broken Date.now) must still give a well-formed id: the
  // timestamp field cannot hold it, so it holds 0, and ids stay increasing through the counter.
  let ms = Number.isFinite(now) ? Math.min(MAX_MS, Math.max(0, Math.floor(now))) : 0;
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
  if (ms !== charsMs) {
    // 48 bits of milliseconds: the high 32 in the first group, the low 16 in the second.
    writeHex(Math.floor(ms / 0x10000), 0, 8);
    writeHex(ms % 0x10000, 9, 4);
    charsMs = ms;
  }
  writeHex(0x7000 | counter, 14, 4); // version 7, then rand_a as the counter
  const at = randomBytes(8);
  const b = pool;
  writeHex(0x80 | (b[at]! & 0x3f), 19, 2); // variant 10xx
  writeHex(b[at + 1]!, 21, 2);
  writeHex((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!, 24, 8);
  writeHex((b[at + 6]! << 8) | b[at + 7]!, 32, 4);
  return String.fromCharCode.apply(null, chars);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
