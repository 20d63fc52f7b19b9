// A field the schema gives a default may be left out of an append, at compile time as at run time
// (append takes the schema's input type), and reads back filled (the stored data is the schema's output).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate, defineEvent } from '../../src/core/index.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { collect, modes } from './modes.ts';

const Sold = defineEvent({
  type: 'Sold',
  schema: z.object({ cents: z.number(), channel: z.enum(['till', 'web']).default('till') }),
});
const Till = defineAggregate({
  type: 'Till',
  events: [Sold],
  initialState: () => ({ byChannel: {} as Record<string, number> }),
  reducers: {
    Sold: (s, e) => ({ byChannel: { ...s.byChannel, [e.data.channel]: (s.byChannel[e.data.channel] ?? 0) + e.data.cents } }),
  },
});

describe.each(modes)('schema defaults ($mode)', ({ worker }) => {
  it('lets an append leave a defaulted field out, and reads it back filled', async () => {
    const name = uniqueStoreName('defaults');
    const store = await openTestStore({ name, aggregates: [Till], worker });
    try {
      // Compiles: `channel` is optional in what append takes, required in what reads give.
      await store.append('till-1', [{ type: 'Sold', data: { cents: 250 } }]);
      await store.append('till-1', [{ type: 'Sold', data: { cents: 100, channel: 'web' } }]);
      const [first] = await collect(store.readStream('till-1'));
      if (!first?.known) throw new Error('expected a known event');
      expectTypeOf(first.data.channel).toEqualTypeOf<'till' | 'web'>();
      expect(first.data).toEqual({ cents: 250, channel: 'till' });
      expect((await store.load(Till, 'till-1')).state.byChannel).toEqual({ till: 250, web: 100 });
    } finally {
      await store.close();
      await deleteTestDatabase(name);
    }
  });
});
