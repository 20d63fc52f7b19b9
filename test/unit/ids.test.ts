import { describe, expect, it } from 'vitest';
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

  it('a clock that stands still or goes back never gives a smaller id', () => {
    const at = Date.now() + 2_000_000;
    const a = uuidv7(at);
    const b = uuidv7(at - 5_000);
    const c = uuidv7(at);
    expect(b > a).toBe(true);
    expect(c > b).toBe(true);
  });
});
