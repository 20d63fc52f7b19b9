import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../src/core/errors.ts';
import { defineEvent } from '../../src/core/event.ts';
import { findJsonProblem } from '../../src/core/json-data.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { linkSchema, storedEventSchema } from '../../src/core/schemas.ts';
import {
  findIdProblem,
  findLinkProblem,
  findStringProblem,
  isHttpUrl,
  isStorableString,
  isValidId,
  MAX_DATA_DEPTH,
  MAX_ID_LENGTH,
} from '../../src/core/text-rules.ts';

const HIGH = '\uD83D'; // the first half of 😀
const LOW = '\uDE00'; // its second half

describe('storable strings (the rule client and server share)', () => {
  it('given ordinary text, emoji and other scripts, then every one is storable', () => {
    for (const text of ['', 'order-1', 'café', '注文', '😀', `a${HIGH}${LOW}b`, 'tab\tnew\nline']) {
      expect(findStringProblem(text), JSON.stringify(text)).toBeUndefined();
      expect(isStorableString(text)).toBe(true);
    }
  });

  it('given a NUL, then it is refused and the reason names it and where it is', () => {
    expect(findStringProblem('ab\u0000c')).toBe('contains a NUL character (U+0000) at index 2');
    expect(isStorableString('\u0000')).toBe(false);
  });

  it('given half of a surrogate pair, alone or out of order, then it is refused', () => {
    for (const text of [HIGH, LOW, `x${HIGH}`, `${LOW}x`, `${LOW}${HIGH}`, `${HIGH}${HIGH}${LOW}`]) {
      expect(findStringProblem(text), escape(text)).toMatch(/lone surrogate/);
    }
  });
});

describe('identifiers', () => {
  it('given 1 to MAX_ID_LENGTH storable characters, then it is an id', () => {
    expect(isValidId('a')).toBe(true);
    expect(isValidId('x'.repeat(MAX_ID_LENGTH))).toBe(true);
    expect(findIdProblem('order-😀')).toBeUndefined();
  });

  it('given anything else, then the problem says what is wrong', () => {
    expect(findIdProblem('')).toBe('must not be empty');
    expect(findIdProblem('x'.repeat(MAX_ID_LENGTH + 1))).toBe(`must be at most ${MAX_ID_LENGTH} characters (got ${MAX_ID_LENGTH + 1})`);
    expect(findIdProblem(42)).toBe('must be a string (got number)');
    expect(findIdProblem(null)).toBe('must be a string (got null)');
    expect(findIdProblem(`order${HIGH}`)).toMatch(/lone surrogate \(half of a UTF-16 pair\) at index 5/);
    expect(isValidId('a\u0000')).toBe(false);
  });

  it('given a stored event with an unstorable field, then the shared schema names that field', () => {
    const event = {
      id: 'e1',
      aggregateId: `o${LOW}`,
      aggregateType: 'Order',
      seq: 1,
      type: 'OrderPlaced',
      version: 1,
      data: {},
      meta: { occurredAt: 1, clientId: 'c\u0000', clientSeq: 1, correlationId: HIGH },
    };
    const result = storedEventSchema.safeParse(event);
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['aggregateId', 'meta.clientId', 'meta.correlationId']));
  });
});

describe('links (meta.correlationId, meta.causationId)', () => {
  it('given a storable string of 0 to MAX_ID_LENGTH characters, then it is a link (an empty one too, unlike an id)', () => {
    for (const link of ['', 'corr-1', 'x'.repeat(MAX_ID_LENGTH), `${HIGH}${LOW}`, 'café 注文']) {
      expect(findLinkProblem(link), JSON.stringify(link)).toBeUndefined();
    }
  });

  it('given anything else, then the problem says what is wrong, in the words of the id rule', () => {
    expect(findLinkProblem('x'.repeat(MAX_ID_LENGTH + 1))).toBe(`must be at most ${MAX_ID_LENGTH} characters (got ${MAX_ID_LENGTH + 1})`);
    expect(findLinkProblem(42)).toBe('must be a string (got number)');
    expect(findLinkProblem(null)).toBe('must be a string (got null)');
    expect(findLinkProblem({ a: 1 })).toBe('must be a string (got object)');
    expect(findLinkProblem('ab\u0000c')).toBe('contains a NUL character (U+0000) at index 2');
    expect(findLinkProblem(`x${LOW}`)).toMatch(/lone surrogate \(half of a UTF-16 pair\) at index 1/);
  });

  it('given any value, then it is an id exactly when it is a link that is not empty', () => {
    const value = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\u0000', HIGH, LOW), maxLength: MAX_ID_LENGTH + 2 }),
      fc.constantFrom('', 'x'.repeat(MAX_ID_LENGTH), 'x'.repeat(MAX_ID_LENGTH + 1), '\u0000', HIGH, LOW),
      fc.constantFrom(undefined, null, 0, 42, true, {}, [], ['x']),
    );
    fc.assert(
      fc.property(
        value,
        (v) =>
          findIdProblem(v) === (v === '' ? 'must not be empty' : findLinkProblem(v)) && isValidId(v) === (findIdProblem(v) === undefined),
      ),
    );
  });

  it('given a link the rule refuses, then append and the stored-event schema refuse it with the rule’s words', () => {
    const Noted = defineEvent({ type: 'Noted', schema: z.object({}) });
    const registry = createRegistry({ events: [Noted] });
    for (const bad of ['x'.repeat(MAX_ID_LENGTH + 1), 'a\u0000', HIGH]) {
      const problem = findLinkProblem(bad);
      let error: unknown;
      try {
        registry.encode([{ type: 'Noted', data: {}, meta: { causationId: bad } }]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ path: 'meta.causationId', reason: problem, index: 0 });
      expect(linkSchema.safeParse(bad).error?.issues.map((issue) => issue.message)).toEqual([problem]);
    }
    // A link of the wrong type: append says so in the rule's words; the schema leaves it to zod's type check.
    expect(() => registry.encode([{ type: 'Noted', data: {}, meta: { correlationId: 7 as never } }])).toThrow(
      'meta.correlationId: must be a string (got number)',
    );
    expect(linkSchema.safeParse(7).error?.issues).toHaveLength(1);
  });
});

describe('event data', () => {
  it('given a string value or key that cannot be stored, then the path leads to it', () => {
    expect(findJsonProblem({ items: [{ note: `ok${HIGH}` }] })).toEqual({
      path: 'items[0].note',
      reason: 'the string contains a lone surrogate (half of a UTF-16 pair) at index 2',
    });
    expect(findJsonProblem({ ['k\u0000']: 1 })).toEqual({
      path: 'k\u0000',
      reason: 'the key contains a NUL character (U+0000) at index 1',
    });
  });

  it('given nesting up to the limit, then it is data; one level more, and it is refused', () => {
    const nest = (levels: number): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
      return value;
    };
    expect(findJsonProblem(nest(MAX_DATA_DEPTH))).toBeUndefined();
    expect(findJsonProblem(nest(MAX_DATA_DEPTH + 1))?.reason).toBe(`nested more than ${MAX_DATA_DEPTH} levels deep`);
  });

  it('given one object reached twice (not a cycle), then it is data; given a cycle, then its path', () => {
    const shared = { sku: 'a' };
    expect(findJsonProblem({ first: shared, again: [shared, { deeper: shared }] })).toBeUndefined();
    const loop: Record<string, unknown> = { name: 'x' };
    loop.items = [{ back: loop }];
    expect(findJsonProblem({ order: loop })).toEqual({ path: 'order.items[0].back', reason: 'a cycle: this object contains itself' });
  });

  it('given 10,000 levels of nesting, then the walk answers without overflowing the stack', () => {
    let value: unknown = null;
    for (let i = 0; i < 10_000; i++) value = { a: value };
    expect(findJsonProblem(value)?.reason).toMatch(/nested more than/);
  });
});

describe('sync server URLs', () => {
  it('given an http(s) base URL, then it is accepted; anything else is not', () => {
    expect(isHttpUrl('http://127.0.0.1:8787')).toBe(true);
    expect(isHttpUrl('https://sync.example.com/base')).toBe(true);
    for (const value of ['ws://x', 'ftp://x', 'http://', '127.0.0.1:8787', '', 42, null])
      expect(isHttpUrl(value), String(value)).toBe(false);
  });
});
