import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../../src/core/index.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { createRegistry } from '../../src/core/registry.ts';

/**
 * Data shaped exactly like an encrypted envelope is refused at append: pushed
 * by a store without encryption, every other store of the log would take it
 * for ciphertext and stop its sync there for good (README, Encryption).
 */
const Note = defineEvent({ type: 'Note', schema: z.record(z.string(), z.unknown()) });
const registry = createRegistry({ events: [Note] });
const shaped = { $enc: 1, kid: 'k1', iv: 'AAAA', ct: 'BBBB' };

describe('data shaped like an encrypted envelope', () => {
  it('is refused with a ValidationError on data that names the rule', () => {
    let thrown: unknown;
    try {
      registry.encode([{ type: 'Note', data: { ...shaped } }]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect(thrown).toMatchObject({ code: 'VALIDATION', path: 'data', index: 0 });
    expect((thrown as Error).message).toMatch(/reserves for encrypted payloads/);
  });

  it('is refused at its place in a batch', () => {
    expect(() =>
      registry.encode([
        { type: 'Note', data: { a: 1 } },
        { type: 'Note', data: { ...shaped } },
      ]),
    ).toThrow(expect.objectContaining({ path: 'data', index: 1 }));
  });

  it('passes when it differs in any way: another field, another $enc, a field of another type, nested', () => {
    const near = [
      { ...shaped, note: 'x' },
      { ...shaped, $enc: 2 },
      { ...shaped, $enc: '1' },
      { ...shaped, ct: 3 },
      { kid: 'k1', iv: 'AAAA', ct: 'BBBB' },
      { inner: { ...shaped } },
    ];
    const encoded = registry.encode(near.map((data) => ({ type: 'Note', data })));
    expect(encoded).toHaveLength(near.length);
  });
});
