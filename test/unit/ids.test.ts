import { describe, expect, it, vi } from 'vitest';
import { isUuid, uuidv7 } from '../../src/core/ids.ts';

describe('uuidv7', () => {
  it('makes RFC 9562 version-7 ids carrying their millisecond', () => {
    const ms = Date.UTC(2026, 11, 2, 12, 0, 0);
    const id = uuidv7(ms);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7'); // version
    expect('89ab').toContain(id[19]); // variant 10xx
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
  });

  it('ids from one generator are unique and strictly increasing, across many refills of its random pool', () => {
    const ids: string[] = [];
    const start = Date.now() + 1_000_000; // ahead of anything this process made before
    for (let i = 0; i < 20_000; i++) ids.push(uuidv7(start + Math.floor(i / 3000)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('a device clock before 1970, or one that is not a number, still gives well-formed, increasing ids', async () => {
    // A fresh generator: the first ids a process makes are the ones a wrong clock used to leave without a timestamp.
    vi.resetModules();
    const fresh = await import('../../src/core/ids.ts');
    const ids = [fresh.uuidv7(-86_400_000), fresh.uuidv7(-5), fresh.uuidv7(Number.NaN), fresh.uuidv7(Date.UTC(1970, 0, 1))];
    for (const id of ids) {
      expect(isUuid(id), id).toBe(true);
      expect(id.slice(0, 13), id).toBe('00000000-0000');
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('a clock that stands still or goes back never gives a smaller id', () => {
    const at = Date.now() + 2_000_000;
    const a = uuidv7(at);
    const b = uuidv7(at - 5_000);
    const c = uuidv7(at);
    expect(b > a).toBe(true);
    expect(c > b).toBe(true);
  });

  it('carries every bit of its millisecond and of its counter, at the ends of their ranges too', () => {
    // A millisecond in the year 6429 whose first group has its top bit set (past 2^31) and its second all ones.
    // (Last in this file: the generator never goes back to an earlier millisecond after it.)
    const last = 0x80000000 * 0x10000 + 0xffff;
    const first = uuidv7(last);
    expect(first.slice(0, 14)).toBe('80000000-ffff-');
    expect(first.slice(14, 19)).toBe('7000-');
    // Within one millisecond the counter goes on in rand_a, in hex, and the time stays.
    const next = uuidv7(last);
    expect(next.slice(0, 19)).toBe('80000000-ffff-7001-');
    for (let i = 2; i < 0xabc; i++) uuidv7(last);
    expect(uuidv7(last).slice(14, 18)).toBe('7abc');
    // The 16 random hex digits come from the platform's random bytes: across ids, every digit shows up.
    const tails = Array.from({ length: 200 }, () => uuidv7(last).slice(19).replace('-', ''));
    expect(new Set(tails.join(''))).toEqual(new Set('0123456789abcdef'));
    expect(tails.every((tail) => /^[89ab][0-9a-f]{15}$/.test(tail))).toBe(true);
  });
});
