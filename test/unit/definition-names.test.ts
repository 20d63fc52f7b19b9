// Names a definition gives the log (event types, aggregate types, projection names) travel with every event
// or key a stored record, and the sync server refuses what its rule for ids refuses (src/core/text-rules.ts:
// empty, over 128 characters, a NUL, a lone surrogate). So the client refuses them too, by the same rule:
// at the definition (ConfigError), and at append for an explicit aggregateType (ValidationError), never
// after the events were stored and then refused by the server at every push.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { aggregateRuntime, defineAggregate, type AnyAggregateDefinition } from '../../src/core/aggregate.ts';
import { ConfigError, ValidationError } from '../../src/core/errors.ts';
import { defineEvent, type AnyEventDefinition } from '../../src/core/event.ts';
import { defineProjection, projectionRuntime, type AnyProjectionDefinition } from '../../src/core/projection.ts';
import { defineReaction, reactionRuntime } from '../../src/core/reaction.ts';
import { createRegistry } from '../../src/core/registry.ts';

const BAD_NAMES: [string, unknown][] = [
  ['a NUL', 'bad\u0000name'],
  ['a lone high surrogate', 'lone\uD800'],
  ['a lone low surrogate', '\uDC00lone'],
  ['129 characters', 'x'.repeat(129)],
  ['10,000 characters', 'z'.repeat(10_000)],
];

/** What `define` throws, which must be a ConfigError. */
function refusal(define: () => unknown): ConfigError {
  try {
    define();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the definition to be refused');
}

const Sold = defineEvent({ type: 'Sold', schema: z.object({}) });
const loose = (value: unknown): never => value as never;

describe('names the sync server would refuse', () => {
  it.each(BAD_NAMES)('given an event type with %s, then defineEvent refuses it with a ConfigError', (_, type) => {
    const error = refusal(() => defineEvent({ type: type as string, schema: z.object({}) }));
    expect(error.message).toMatch(/^defineEvent\(".*"\): type (contains|must be at most 128)/);
    // The message shows the name escaped and cut, never a 10,000-character line.
    expect(error.message.length).toBeLessThan(200);
  });

  it.each(BAD_NAMES)('given an aggregate type with %s, then defineAggregate refuses it with a ConfigError', (_, type) => {
    const define = () =>
      defineAggregate({ type: type as string, events: [Sold], initialState: () => 0, reducers: { Sold: (s: number) => s } });
    expect(refusal(define).message).toMatch(/^defineAggregate\(".*"\): type /);
  });

  it.each([...BAD_NAMES, ['empty', ''], ['a number', 42]])(
    'given a projection name with %s, then defineProjection refuses it',
    (_, name) => {
      const define = () =>
        defineProjection({ name: name as string, events: [Sold], initialState: () => 0, handlers: { Sold: (s: number) => s } });
      expect(refusal(define).message).toMatch(/^defineProjection\(.*\): name /);
    },
  );

  it('given a projection without handlers, then defineProjection says so', () => {
    expect(refusal(() => defineProjection(loose({ name: 'p', events: [Sold], initialState: () => 0 }))).message).toMatch(
      /handlers must be an object/,
    );
  });

  it('given names of 128 characters and other valid ones, then every definition takes them', () => {
    const type = 'T'.repeat(128);
    const E = defineEvent({ type, schema: z.object({}) });
    expect(
      defineAggregate({ type: 'A'.repeat(128), events: [E], initialState: () => 0, reducers: { [type]: (s: number) => s } as never }).type,
    ).toHaveLength(128);
    expect(defineProjection({ name: 'p-\u00e9\u{1F600}', events: [E], initialState: () => 0, handlers: {} }).name).toBe(
      'p-\u00e9\u{1F600}',
    );
  });

  it('given an event definition written as an object literal with a bad type, then the registry refuses it', () => {
    const literal = { kind: 'event', type: 'bad\u0000', version: 1, schema: z.object({}), upcasters: {} } as AnyEventDefinition;
    expect(() => createRegistry({ events: [literal] })).toThrow(ConfigError);
  });

  it.each(BAD_NAMES)('given an explicit aggregateType with %s at append, then a ValidationError names the field', (_, aggregateType) => {
    const registry = createRegistry({ events: [Sold] });
    let error: unknown;
    try {
      registry.resolveAggregateType([{ type: 'Sold', data: {} }], aggregateType as string);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'VALIDATION', path: 'aggregateType' });
  });
});

describe('reducers and handlers hold only what the app wrote', () => {
  const ToString = defineEvent({ type: 'toString', schema: z.object({}) });

  it('given an event type named like an Object.prototype member without a reducer, then defineAggregate refuses it', () => {
    // On the app's object, `toString` would find Object.prototype.toString and pass for a reducer.
    const define = () => defineAggregate({ type: 'A', events: [ToString], initialState: () => 0, reducers: {} as never });
    expect(refusal(define).message).toBe('defineAggregate(A): no reducer for event type toString');
  });

  it('given a reducer or handler that is not a function, then the definition is refused', () => {
    const reducers = { Sold: (s: number) => s, Extra: 42 };
    expect(refusal(() => defineAggregate(loose({ type: 'A', events: [Sold], initialState: () => 0, reducers }))).message).toMatch(
      /the reducer for Extra is not a function/,
    );
    const handlers = { Sold: 'not a function' };
    expect(refusal(() => defineProjection(loose({ name: 'p', events: [Sold], initialState: () => 0, handlers }))).message).toMatch(
      /the handler for Sold is not a function/,
    );
  });

  it('given definitions made by their define functions, then no inherited member is found by any type', () => {
    const A = defineAggregate({ type: 'A', events: [Sold], initialState: () => 0, reducers: { Sold: (s: number) => s } });
    const P = defineProjection({ name: 'p', events: [Sold], initialState: () => 0, handlers: { Sold: (s: number) => s } });
    const R = defineReaction({ name: 'r', events: [Sold], handlers: { Sold: () => undefined } });
    for (const table of [aggregateRuntime(A).reducers, projectionRuntime(P).handlers, reactionRuntime(R).handlers] as Record<
      string,
      unknown
    >[]) {
      for (const member of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) expect(table[member]).toBeUndefined();
      expect(typeof table.Sold).toBe('function');
    }
  });

  it('given definitions written as object literals, then the runtimes still find only own members', () => {
    const reducers = { Sold: (s: number) => s + 1 };
    const literal = { kind: 'aggregate', type: 'A', version: 1, events: [Sold], snapshotEvery: 0, initialState: () => 0, reducers };
    const runtime = aggregateRuntime(literal as AnyAggregateDefinition);
    expect(runtime.reducers.toString).toBeUndefined();
    expect(runtime.reducers.Sold?.(1, {})).toBe(2);
    // Made once per definition, not per load.
    expect(aggregateRuntime(literal as AnyAggregateDefinition)).toBe(runtime);
    const projection = {
      kind: 'projection',
      name: 'p',
      version: 1,
      events: [Sold],
      initialState: () => 0,
      handlers: { Sold: reducers.Sold },
    };
    expect(projectionRuntime(projection as AnyProjectionDefinition).handlers.constructor).toBeUndefined();
  });
});
