// stringifyJsonData (src/core/json-data.ts) checks and writes event data in one walk. It must refuse what
// findJsonProblem refuses, with the same path and reason, and write what JSON.stringify writes of the rest:
// append's JSON is compared byte for byte elsewhere (an id repeated with the same data is a no-op).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findJsonProblem, stringifyJsonData } from '../../src/core/json-data.ts';
import { MAX_DATA_DEPTH } from '../../src/core/text-rules.ts';

/** Both ways of judging `value` give the same answer. */
function expectAgreement(value: unknown): void {
  const problem = findJsonProblem(value);
  const written = stringifyJsonData(value);
  if (problem === undefined) expect(written).toBe(JSON.stringify(value));
  else expect(written).toEqual({ ...problem, thrown: false });
}

const nest = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

class Money {
  constructor(readonly cents: number) {}
}

describe('stringifyJsonData agrees with findJsonProblem and JSON.stringify', () => {
  it('given values of every kind, accepted and refused, then the same answer', () => {
    const loop: Record<string, unknown> = { name: 'x' };
    loop.items = [{ back: loop }];
    const shared = { sku: 'a' };
    const values: unknown[] = [
      null,
      true,
      0,
      -0,
      1e21,
      5e-324,
      'text "quoted" \\ \n \u0001 \u007f \u2028 é 注文 😀',
      { a: [1, { b: 'c' }], '': 'empty key', 'k"ey': 1, 10: 'numeric key', 2: 'first' },
      Object.assign(Object.create(null) as object, { plain: true }),
      { first: shared, again: [shared, { deeper: shared }] },
      [],
      {},
      nest(MAX_DATA_DEPTH),
      nest(MAX_DATA_DEPTH + 1),
      { order: loop },
      { n: NaN },
      [Infinity],
      { u: undefined },
      [1, , 3],
      { f: () => 1 },
      { s: Symbol('s') },
      { b: 10n },
      { d: new Date(0) },
      { m: new Map() },
      { set: new Set([1]) },
      { money: new Money(5) },
      { lone: 'ok\uD83D' },
      { ['k\u0000']: 1 },
      [{ x: [{ y: '\uDE00' }] }],
      undefined,
      'bare \u0000',
    ];
    for (const value of values) expectAgreement(value);
  });

  it('given generated JSON-like values, then the same answer', () => {
    const nasty = fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uD83D\uDE00', '"', '\\', '\n');
    const text = fc.oneof(
      fc.string(),
      nasty.chain((bad) => fc.string({ maxLength: 3 }).map((s) => `${s}${bad}${s}`)),
    );
    const leaf = fc.oneof(
      text,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant(new Date(0)),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(text, tie('value'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => expectAgreement(v)),
      { numRuns: 2000 },
    );
  });

  it('given an array with a toJSON of its own, then its items are written, as they were checked', () => {
    const items = Object.assign([1, 2], { toJSON: () => 'replaced' });
    expect(stringifyJsonData({ items })).toBe('{"items":[1,2]}');
  });

  it('given 10,000 levels of nesting, then it answers without overflowing the stack', () => {
    let value: unknown = null;
    for (let i = 0; i < 10_000; i++) value = { a: value };
    expect(stringifyJsonData(value)).toMatchObject({ reason: `nested more than ${MAX_DATA_DEPTH} levels deep`, thrown: false });
  });

  it('given app code that throws while the data is read, then the problem says so, at its path', () => {
    const v = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new TypeError('nope');
      },
    });
    expect(stringifyJsonData({ list: [0, v] })).toEqual({ path: 'list[1].x', reason: 'reading it threw: TypeError: nope', thrown: true });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(stringifyJsonData([proxy])).toMatchObject({ path: '[0]', thrown: true });
    expect(stringifyJsonData(proxy)).toMatchObject({ path: '', thrown: true });
  });
});
