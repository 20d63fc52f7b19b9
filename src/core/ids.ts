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
  const rand = new Uint8Array(8);
  globalThis.crypto.getRandomValues(rand);
  const r = rand as Uint8Array & { [i: number]: number };
  const timeHex = hex(Math.floor(ms / 0x10000), 8) + hex(ms % 0x10000, 4);
  const randA = 0x7000 | counter;
  const variant = 0x80 | (r[0]! & 0x3f);
  let tail = '';
  for (let i = 1; i < 8; i++) tail += hex(r[i]!, 2);
  return `${timeHex.slice(0, 8)}-${timeHex.slice(8, 12)}-${hex(randA, 4)}-${hex(variant, 2)}${tail.slice(0, 2)}-${tail.slice(2, 14)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
