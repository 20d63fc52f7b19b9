// The event-type filter's options: each type once, sorted, new ones placed among those listed.
import { describe, expect, it } from 'vitest';
import { placeTypes } from '../../src/devtools/model/type-options.ts';

describe('devtools type options', () => {
  it('places new types among the listed ones, sorted, each before the type it sorts before', () => {
    expect(placeTypes(['B', 'D'], ['E', 'A', 'C'])).toEqual({
      types: ['A', 'B', 'C', 'D', 'E'],
      placements: [
        { type: 'A', before: 'B' },
        { type: 'C', before: 'D' },
        { type: 'E', before: null },
      ],
    });
  });

  it('lists a type once: repeats and types already listed add nothing', () => {
    expect(placeTypes(['A', 'C'], ['C', 'B', 'B', 'A'])).toEqual({ types: ['A', 'B', 'C'], placements: [{ type: 'B', before: 'C' }] });
    expect(placeTypes(['A'], [])).toEqual({ types: ['A'], placements: [] });
  });

  it('given types in batches, then the list is what sorting them all gives, in the order Array.prototype.sort gives strings', () => {
    const all = Array.from({ length: 3000 }, (_, i) => `T${(i * 7919) % 3000}${i % 3 === 0 ? 'é' : i % 3 === 1 ? 'Z' : 'a'}`);
    let listed: string[] = [];
    for (let from = 0; from < all.length; from += 250) listed = placeTypes(listed, all.slice(from, from + 250)).types;
    expect(listed).toEqual([...new Set(all)].sort());
  });
});
