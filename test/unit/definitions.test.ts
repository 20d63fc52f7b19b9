// defineEvent / defineAggregate (src/core): an app written in plain JavaScript gets no
// compile-time check, so a definition of the wrong shape must fail at once with a
// ConfigError (a ChronicleError, code CONFIG, as every error of the store) that names what is
// wrong, not later inside the store.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { defineProjection } from '../../src/core/projection.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { createRegistry } from '../../src/core/registry.ts';

/** What `define` throws: a ConfigError with code CONFIG; its message. */
function configErrorOf(define: () => unknown): string {
  try {
    define();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'CONFIG' });
    return (error as Error).message;
  }
  throw new Error('expected the definition to be refused');
}

const Sold = defineEvent({ type: 'Sold', schema: z.object({ cents: z.number() }) });
/** A value of any shape, as a JavaScript caller may pass. */
const loose = (value: unknown): never => value as never;
const aggregate = (overrides: Record<string, unknown>) =>
  defineAggregate(
    loose({
      type: 'Till',
      events: [Sold],
      initialState: () => ({ total: 0 }),
      reducers: { Sold: (s: { total: number }) => s },
      ...overrides,
    }),
  );

describe('definitions of the wrong shape', () => {
  it('given defineEvent without an options object, a type or a zod schema, then a ConfigError says which', () => {
    expect(() => defineEvent(loose('Sold'))).toThrow(new ConfigError('defineEvent({ type, schema }): type must be a non-empty string'));
    expect(() => defineEvent(loose({ type: '', schema: z.object({}) }))).toThrow(/type must be a non-empty string/);
    expect(() => defineEvent(loose({ type: 'Sold' }))).toThrow(new ConfigError('defineEvent(Sold): schema must be a zod schema'));
    expect(() => defineEvent(loose({ type: 'Sold', schema: { parse: () => 1 } }))).toThrow(/schema must be a zod schema/);
    expect(() => defineEvent(loose({ type: 'Sold', schema: z.object({}), version: 2 }))).toThrow(
      /version 2 needs an upcaster from version 1/,
    );
  });

  it('given defineAggregate with a missing or wrong part, then a ConfigError names the part', () => {
    expect(() => defineAggregate(loose(undefined))).toThrow(/type must be a non-empty string/);
    expect(() => aggregate({ type: 7 })).toThrow(/type must be a non-empty string/);
    expect(() => aggregate({ events: Sold })).toThrow(
      new ConfigError('defineAggregate(Till): events must be an array of defineEvent(...) definitions'),
    );
    expect(() => aggregate({ events: [{ type: 'Sold' }] })).toThrow(/events must be an array of defineEvent/);
    expect(() => aggregate({ initialState: { total: 0 } })).toThrow(/initialState must be a function/);
    expect(() => aggregate({ reducers: undefined })).toThrow(/reducers must be an object/);
    expect(() => aggregate({ reducers: {} })).toThrow(new ConfigError('defineAggregate(Till): no reducer for event type Sold'));
    expect(() => aggregate({ version: 0 })).toThrow(/version must be a positive integer/);
    expect(aggregate({}).type).toBe('Till');
  });

  it('given any definition of the wrong shape, then what is thrown is a ConfigError (code CONFIG), never a bare TypeError', () => {
    expect(configErrorOf(() => defineEvent(loose({ type: 'Sold' })))).toMatch(/schema must be a zod schema/);
    expect(configErrorOf(() => aggregate({ reducers: {} }))).toMatch(/no reducer for event type Sold/);
    expect(
      configErrorOf(() => defineProjection(loose({ name: 'p', version: 0, events: [Sold], initialState: () => 0, reducers: {} }))),
    ).toMatch(/version must be a positive integer/);
    const handlers = { Sold: async () => undefined };
    expect(configErrorOf(() => defineReaction(loose({ name: 'r', events: [Sold], handlers, maxAttempts: 0 })))).toMatch(/maxAttempts/);
    const SoldAgain = defineEvent({ type: 'Sold', schema: z.object({}) });
    expect(configErrorOf(() => createRegistry({ events: [Sold, SoldAgain] }))).toMatch(/defined twice/);
  });
});
