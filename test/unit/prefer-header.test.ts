import { describe, expect, it } from 'vitest';
import { preference, prefersMinimalReturn } from '../../src/server/http/prefer.ts';

describe('the Prefer header (RFC 7240)', () => {
  it('asks for a minimal reply with return=minimal, however it is spelled', () => {
    for (const header of [
      'return=minimal',
      'Return=Minimal',
      'RETURN=MINIMAL',
      'return = minimal',
      'return="minimal"',
      '  return=minimal  ',
      'return=minimal; charset=utf-8',
      'respond-async, return=minimal',
      'wait=10, return=minimal;foo="a,b"',
      ['respond-async', 'return=minimal'],
    ]) {
      expect(prefersMinimalReturn(header), JSON.stringify(header)).toBe(true);
    }
  });

  it('does not for anything else', () => {
    for (const header of [
      undefined,
      '',
      ' , ;',
      'return=representation',
      'return=minimalist',
      'return=mini',
      'return',
      'return=',
      'returns=minimal',
      'xreturn=minimal',
      'respond-async',
      'foo="return=minimal"',
      'foo=bar; return=minimal',
      'handling=lenient; return=minimal',
      [],
    ]) {
      expect(prefersMinimalReturn(header), JSON.stringify(header)).toBe(false);
    }
  });

  it('takes the first instance of a preference and ignores later ones', () => {
    expect(prefersMinimalReturn('return=representation, return=minimal')).toBe(false);
    expect(prefersMinimalReturn('return=minimal, return=representation')).toBe(true);
    expect(prefersMinimalReturn(['return=representation', 'return=minimal'])).toBe(false);
  });

  it('reads values with quoted commas, semicolons and escapes, and names without values', () => {
    expect(preference('wait=10, respond-async', 'wait')).toBe('10');
    expect(preference('wait=10, respond-async', 'respond-async')).toBe('');
    expect(preference('foo="a, b; c", bar', 'foo')).toBe('a, b; c');
    expect(preference('foo="say \\"hi\\""', 'foo')).toBe('say "hi"');
    expect(preference('foo=1', 'bar')).toBeUndefined();
    expect(preference('foo="unterminated, bar=2', 'bar')).toBeUndefined();
  });
});
