import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/ids.ts';
import { EXACT_UP_TO, idKeys, isOrderedId, RUN_MS, timeOfId } from '../../worker/id-keys.ts';

// The `id` index entries of a commit (worker/id-keys.ts): given ids, when they are indexed, then...

describe('id index entries', () => {
  it('given a few time-ordered ids, then each is its own entry', () => {
    const ids = Array.from({ length: EXACT_UP_TO }, () => uuidv7());
    expect(idKeys(ids)).toEqual(ids);
  });

  it('given many time-ordered ids made close together, then they are one run [lowest, highest]', () => {
    const ids = Array.from({ length: 1000 }, () => uuidv7(1_800_000_000_000));
    const shuffled = [...ids].reverse();
    expect(idKeys(shuffled)).toEqual([[ids[0], ids[999]]]);
  });

  it('given ids spread over time, then no run spans more than RUN_MS of id time', () => {
    const ids = Array.from({ length: 50 }, (_, i) => uuidv7(1_800_000_100_000 + i * 300));
    const keys = idKeys(ids);
    expect(keys.length).toBeGreaterThan(1);
    const covered: string[] = [];
    for (const key of keys) {
      expect(Array.isArray(key)).toBe(true);
      const [lo, hi] = key as [string, string];
      expect(timeOfId(hi) - timeOfId(lo)).toBeLessThanOrEqual(RUN_MS);
      covered.push(...ids.filter((id) => id >= lo && id <= hi));
    }
    expect(covered.sort()).toEqual([...ids].sort());
  });

  it('given ids of other shapes (uppercase, v4, free text), then each is its own entry, beside the runs', () => {
    const others = ['order-7-line-2', uuidv7().toUpperCase(), '6f1c4a52-3b1e-4c3a-9b1e-0c1d2e3f4a5b'];
    const ordered = Array.from({ length: 10 }, () => uuidv7(1_800_000_200_000));
    expect(others.some(isOrderedId)).toBe(false);
    const keys = idKeys([...others, ...ordered]);
    expect(keys.filter((k) => typeof k === 'string')).toEqual(others);
    expect(keys.filter((k) => Array.isArray(k))).toEqual([[ordered[0], ordered[9]]]);
  });

  it('reads the millisecond time out of an id', () => {
    expect(timeOfId(uuidv7(1_800_000_300_123))).toBe(1_800_000_300_123);
  });

  // Last: uuidv7() is monotonic, so ids made here at a later time would shift the times of the tests above.
  it('given ids known to be made by uuidv7(), then they are indexed exactly as if their shape had been tested', () => {
    const made = Array.from({ length: 300 }, (_, i) => uuidv7(1_800_000_200_000 + i * 7));
    const given = ['order-7', 'Another-Id', made[0]!.toUpperCase()];
    expect(idKeys(given, made)).toEqual(idKeys([...given, ...made]));
  });
});
