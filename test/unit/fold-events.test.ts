// chronicle/testing's foldEvents: reducer tests in given / when / then form. The reducer must see what
// it would see from the store, so each given event is checked and parsed as append would: a field the
// schema defaults is filled, data the store would refuse fails the test's setup with the same typed
// error, and the event carries its definition's version.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate, defineEvent, ValidationError } from '../../src/core/index.ts';
import { foldEvents, openTestStore } from '../../src/testing/index.ts';

const Sold = defineEvent({
  type: 'Sold',
  version: 2,
  schema: z.object({ cents: z.number().int(), channel: z.enum(['till', 'web']).default('till') }),
  upcasters: { 1: (d: { cents: number }) => d },
});
const Till = defineAggregate({
  type: 'Till',
  events: [Sold],
  initialState: () => ({ cents: 0, channels: [] as string[], versions: [] as number[] }),
  reducers: {
    Sold: (s, e) => ({ cents: s.cents + e.data.cents, channels: [...s.channels, e.data.channel], versions: [...s.versions, e.version] }),
  },
});

describe('foldEvents', () => {
  it('folds events as the store would hand them over: defaults filled, at the definition version', () => {
    const state = foldEvents(Till, [
      { type: 'Sold', data: { cents: 250 } },
      { type: 'Sold', data: { cents: 100, channel: 'web' } },
    ]);
    expect(state).toEqual({ cents: 350, channels: ['till', 'web'], versions: [2, 2] });
  });

  it('refuses data the store would refuse, with the same typed error', () => {
    expect(() => foldEvents(Till, [{ type: 'Sold', data: { cents: 2.5 } }])).toThrow(ValidationError);
    expect(() => foldEvents(Till, [{ type: 'Sold', data: { cents: 1, channel: 'phone' } as never }])).toThrow(/data\.channel/);
  });

  it('given something that is no aggregate definition, or a hand-made one lacking a reducer: a typed error, not a TypeError', () => {
    for (const aggregate of [null, undefined, {}, { type: 'Till' }]) {
      expect(() => foldEvents(aggregate as never, [])).toThrow(ValidationError);
    }
    const handMade = { ...Till, reducers: {} };
    expect(() => foldEvents(handMade as never, [{ type: 'Sold', data: { cents: 1 } }] as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG', message: 'aggregate Till has no reducer for Sold' }),
    );
  });
});

describe('openTestStore', () => {
  it('given no options object: ConfigError, as openStore gives, not a TypeError', async () => {
    await expect(openTestStore(null as never)).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
