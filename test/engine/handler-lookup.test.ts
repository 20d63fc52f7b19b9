// Reducers and handlers are looked up by the type an event read from the log carries, which may be any
// string: another aggregate's event in the stream, another build's, one from sync. A type named like a
// member of Object.prototype (`toString`, `constructor`) must find only a reducer or handler the app wrote,
// never the inherited member (which "folded" such an event into the state "[object Undefined]").
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';
import { defineProjection } from '../../src/core/projection.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { modes } from './modes.ts';

const Add = defineEvent({ type: 'Add', schema: z.object({ n: z.number() }) });
const ToString = defineEvent({ type: 'toString', schema: z.object({}) });
const Constructor = defineEvent({ type: 'constructor', schema: z.object({}) });
const Proto = defineEvent({ type: '__proto__', schema: z.object({}) });

const Counter = defineAggregate({
  type: 'Counter',
  events: [Add],
  snapshotEvery: 0,
  initialState: () => ({ n: 0 }),
  reducers: { Add: (s, e) => ({ n: s.n + e.data.n }) },
});

/** An aggregate whose own reducers carry Object.prototype's member names: they must run. */
const Named = defineAggregate({
  type: 'Named',
  events: [ToString, Constructor, Proto],
  snapshotEvery: 0,
  initialState: () => [] as string[],
  // Computed keys: `__proto__: fn` in a literal would set the prototype, not define a reducer.
  reducers: {
    ['toString']: (s: string[]) => [...s, 'toString'],
    ['constructor']: (s: string[]) => [...s, 'constructor'],
    ['__proto__']: (s: string[]) => [...s, '__proto__'],
  } as never,
});

const Sum = defineProjection({
  name: 'sum',
  events: [Add],
  initialState: () => 0,
  handlers: { Add: (s: number, e) => s + e.data.n },
});

describe.each(modes)('reducer and handler lookup by event type ($mode)', ({ worker }) => {
  it('given another aggregate’s toString and constructor events in a stream, then load skips them as unknown', async () => {
    const store = await openTestStore({ aggregates: [Counter, Named], projections: [Sum], worker });
    try {
      await store.append('c', [{ type: 'Add', data: { n: 2 } }]);
      await store.append('c', [{ type: 'constructor', data: {} }], { aggregateType: 'Counter' });
      await store.append('c', [{ type: 'toString', data: {} }], { aggregateType: 'Counter' });
      await store.append('c', [{ type: '__proto__', data: {} }], { aggregateType: 'Counter' });
      const loaded = await store.load(Counter, 'c');
      expect(loaded.state).toEqual({ n: 2 });
      expect(loaded.unknownEvents).toBe(3);
      expect(loaded.version).toBe(4);
    } finally {
      await store.dispose();
    }
  });

  it('given reducers of its own named toString, constructor and __proto__, then load folds with them', async () => {
    const store = await openTestStore({ aggregates: [Counter, Named], worker });
    try {
      await store.append('n', [
        { type: 'toString', data: {} },
        { type: 'constructor', data: {} },
        { type: '__proto__', data: {} },
      ]);
      const loaded = await store.load(Named, 'n');
      expect(loaded.state).toEqual(['toString', 'constructor', '__proto__']);
      expect(loaded.unknownEvents).toBe(0);
    } finally {
      await store.dispose();
    }
  });

  it('given toString and constructor events in the log, then a projection folded over the whole log ignores them', async () => {
    const store = await openTestStore({ aggregates: [Counter, Named], projections: [Sum], worker });
    try {
      await store.append('c', [{ type: 'Add', data: { n: 5 } }]);
      await store.append('n', [
        { type: 'toString', data: {} },
        { type: 'constructor', data: {} },
      ]);
      // inspectProjection folds every event of the log through the handlers, whatever its type.
      expect(await store.inspectProjection(Sum, {})).toBe(5);
      expect((await store.projection(Sum).get()).state).toBe(5);
    } finally {
      await store.dispose();
    }
  });
});
