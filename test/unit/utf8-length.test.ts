import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Length } from '../../src/core/json-data.ts';

const encoder = new TextEncoder();

describe('utf8Length', () => {
  it('given any string (ASCII, other scripts, emoji, lone surrogates), then it counts what TextEncoder writes', () => {
    for (const text of ['', 'plain', 'café', '注文', '😀', 'a😀b', '\uD83D', '\uDE00x', '\uD83D\uD83D\uDE00']) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => utf8Length(text) === encoder.encode(text).length),
      { numRuns: 2_000 },
    );
  });
});
