import { describe, expect, it } from 'vitest';
import { showInvisibles } from '../../src/devtools/format.ts';

/** The devtools panel shows data exactly (src/devtools/format.ts): what would reorder or hide text is shown as its escape. */
describe('showInvisibles', () => {
  it('writes bidirectional overrides, isolates, marks and zero-width characters as \\uXXXX', () => {
    expect(showInvisibles('\u202Egnp.exe')).toBe('\\u202Egnp.exe');
    expect(showInvisibles('a\u200Bb\u2066c\u2069\u200F\uFEFF')).toBe('a\\u200Bb\\u2066c\\u2069\\u200F\\uFEFF');
  });

  it('leaves visible text alone: other scripts, right-to-left letters, emoji and joined emoji', () => {
    for (const text of ['order-1', 'שלום', 'مرحبا', 'café', '👩\u200D💻', 'می\u200Cخواهم', '🇩🇪', ''])
      expect(showInvisibles(text)).toBe(text);
  });
});
