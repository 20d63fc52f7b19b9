import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pushRequestSchema } from '../../src/core/protocol.ts';
import { MAX_DATA_DEPTH } from '../../src/core/text-rules.ts';
import { acceptPush } from '../../src/server/validate.ts';

/**
 * The push fast path (src/server/validate.ts) must never accept what the
 * schema refuses, and what it accepts must be what the schema's parse gives.
 * Checked on generated bodies that are mostly valid pushes with one thing
 * wrong: unstorable strings in any field (NUL, lone surrogates), data nested
 * past the limit, extra or missing keys, wrong versions and epochs.
 */

const NASTY = ['\u0000', '\uD800', '\uDFFF', 'x\uD83D', '\uDE00y', '\uD83D\uDE00'];

const text = fc.oneof(
  { weight: 30, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY).chain((bad) => fc.string({ maxLength: 4 }).map((s) => `${s}${bad}${s}`)) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(128), 'x'.repeat(129)) },
);

/** JSON-ish data: objects whose keys may be nasty too, nested up to and past the depth limit. */
const data: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 3 }),
  fc.integer({ min: MAX_DATA_DEPTH - 2, max: MAX_DATA_DEPTH + 2 }).map((levels) => {
    let value: unknown = 'leaf';
    for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { d: value };
    return value;
  }),
);

const event = (clientId: string, clientSeq: number) =>
  fc.record({
    id: text,
    aggregateId: text,
    aggregateType: text,
    seq: fc.integer({ min: 1, max: 5 }),
    type: text,
    version: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }),
    data,
    meta: fc.record(
      {
        occurredAt: fc.oneof({ weight: 20, arbitrary: fc.integer() }, { weight: 1, arbitrary: fc.double() }),
        clientId: fc.oneof({ weight: 30, arbitrary: fc.constant(clientId) }, { weight: 1, arbitrary: text }),
        clientSeq: fc.oneof({ weight: 30, arbitrary: fc.constant(clientSeq) }, { weight: 1, arbitrary: fc.integer() }),
        correlationId: text,
        causationId: text,
      },
      { requiredKeys: ['occurredAt', 'clientId', 'clientSeq'] },
    ),
  });

const push = fc
  .record({
    protocolVersion: fc.constantFrom(1, 2, 2, 2, 2, 3),
    clientId: text,
    epoch: fc.option(fc.oneof({ weight: 10, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5) }), { nil: undefined }),
    from: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }),
    count: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }),
    extra: fc.option(fc.constant('surprise'), { nil: undefined, freq: 20 }),
  })
  .chain(({ protocolVersion, clientId, epoch, from, count, extra }) =>
    fc.tuple(...Array.from({ length: count }, (_, i) => event(clientId, from + i))).map((events) => {
      const body: Record<string, unknown> = { protocolVersion, clientId, from, to: from + count - 1, events };
      if (epoch !== undefined) body.epoch = epoch;
      if (extra !== undefined) body.extra = extra;
      return body;
    }),
  );

describe('the push fast path agrees with the schema', () => {
  it('whatever the fast path accepts, the schema accepts, with the same result', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(push, (candidate) => {
        // As the server sees it: a JSON body, parsed.
        const body = JSON.parse(JSON.stringify(candidate)) as Record<string, unknown>;
        const fast = acceptPush(body);
        if (!fast) return;
        acceptedCount++;
        const parsed = pushRequestSchema.safeParse(body);
        expect(parsed.success, JSON.stringify(parsed.error?.issues[0])).toBe(true);
        expect(fast).toEqual(parsed.data);
      }),
      { numRuns: 2000, seed: 20261203 },
    );
    // The property would hold vacuously if the fast path accepted nothing.
    expect(acceptedCount).toBeGreaterThan(20);
  });

  it('refuses unstorable strings and over-deep data in every field the schema checks', () => {
    const valid: {
      clientId: string;
      events: ({
        id: string;
        aggregateId: string;
        aggregateType: string;
        type: string;
        data: unknown;
        meta: Record<string, unknown>;
      } & Record<string, unknown>)[];
    } & Record<string, unknown> = {
      protocolVersion: 2,
      clientId: 'c',
      from: 1,
      to: 1,
      events: [
        {
          id: 'e',
          aggregateId: 'o',
          aggregateType: 'Order',
          seq: 1,
          type: 'T',
          version: 1,
          data: { a: 'ok' },
          meta: { occurredAt: 1, clientId: 'c', clientSeq: 1 },
        },
      ],
    };
    expect(acceptPush(structuredClone(valid))).toBeDefined();
    const mutations: ((p: typeof valid) => void)[] = [
      (p) => (p.clientId = 'c\u0000'),
      (p) => (p.events[0]!.id = '\uD800'),
      (p) => (p.events[0]!.aggregateId = 'o\u0000'),
      (p) => (p.events[0]!.aggregateType = '\uDC00'),
      (p) => (p.events[0]!.type = 'T\u0000'),
      (p) => (p.events[0]!.data = { a: 'x\uD800' }),
      (p) => (p.events[0]!.data = { ['k\u0000']: 1 }),
      (p) => (p.events[0]!.data = [[['\uDFFF']]]),
      (p) => ((p.events[0]!.meta as Record<string, unknown>).correlationId = '\u0000'),
      (p) => {
        let deep: unknown = 1;
        for (let i = 0; i <= MAX_DATA_DEPTH; i++) deep = [deep];
        p.events[0]!.data = deep;
      },
    ];
    for (const mutate of mutations) {
      const body = structuredClone(valid);
      mutate(body);
      expect(acceptPush(body as unknown as Record<string, unknown>), mutate.toString()).toBeUndefined();
      expect(pushRequestSchema.safeParse(body).success, mutate.toString()).toBe(false);
    }
  });
});
