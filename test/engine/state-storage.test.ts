// What storing aggregate and projection state keeps, refuses and reports (README: "What a state may hold").
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineAggregate, defineEvent, defineProjection, UnserializableDataError } from '../../src/core/index.ts';
import { diffValues } from '../../src/devtools/diff.ts';
import { createEncoder, type Encoded, type EncodedContainer } from '../../src/devtools/encode.ts';
import { deleteTestDatabase, openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { modes } from './modes.ts';

const Deposited = defineEvent({ type: 'Deposited', schema: z.object({ cents: z.number() }) });

class Money {
  constructor(readonly cents: number) {}
  plus(cents: number): Money {
    return new Money(this.cents + cents);
  }
}

/** The aggregate the projection tests append to. */
const Account = defineAggregate({
  type: 'Account',
  events: [Deposited],
  initialState: () => 0,
  reducers: { Deposited: (n: number) => n + 1 },
});

const deposit = (cents: number) => ({ type: 'Deposited' as const, data: { cents } });

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, and it resolved');
}

/** An aggregate whose reducer returns `make()` (a fresh type name per test: warnings are once per type). */
function aggregateOf(type: string, make: () => unknown) {
  return defineAggregate({
    type,
    events: [Deposited],
    snapshotEvery: 0,
    initialState: (): unknown => null,
    reducers: { Deposited: () => make() },
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(modes)('aggregate state in snapshots ($mode)', ({ mode, worker }) => {
  it('a snapshot gives -0 back as -0 (JSON text would make it 0)', async () => {
    const A = defineAggregate({
      type: `Signed-${mode}`,
      events: [Deposited],
      initialState: () => ({ last: 1 }),
      reducers: { Deposited: (_s, e) => ({ last: -e.data.cents }) },
    });
    const store = await openTestStore({ aggregates: [A], worker });
    try {
      await store.append('a', [deposit(0)]);
      expect(Object.is((await store.load(A, 'a')).state.last, -0)).toBe(true);
      expect(await store.snapshot(A, 'a')).toBe(1);
      const loaded = await store.load(A, 'a');
      expect(loaded.snapshotVersion).toBe(1);
      expect(Object.is(loaded.state.last, -0)).toBe(true);
    } finally {
      await store.dispose();
    }
  });

  it('a class instance state is never snapshotted: load gives the same instance before and after snapshotEvery, with one warning', async () => {
    const type = `Wallet-${mode}`;
    const Wallet = defineAggregate({
      type,
      events: [Deposited],
      snapshotEvery: 2,
      initialState: () => new Money(0),
      reducers: { Deposited: (s, e) => s.plus(e.data.cents) },
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const store = await openTestStore({ aggregates: [Wallet], worker });
    try {
      await store.append('w', [deposit(1), deposit(2), deposit(3)]);
      for (let i = 0; i < 2; i++) {
        // Each load folds 3 events (>= snapshotEvery): the snapshot it would store is left out.
        const loaded = await store.load(Wallet, 'w');
        expect(loaded.state).toBeInstanceOf(Money);
        expect(loaded).toMatchObject({ version: 3, snapshotVersion: 0, state: { cents: 6 } });
      }
      await store.append('w', [deposit(4)]);
      // The reducer calls state.plus(): a state reloaded as a plain object would make it throw.
      const later = await store.load(Wallet, 'w');
      expect(later.state).toBeInstanceOf(Money);
      expect(later.state.cents).toBe(10);
      const warnings = warn.mock.calls.map((call) => String(call[0])).filter((text) => text.includes(type));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`aggregate ${type} "w"`);
      expect(warnings[0]).toContain('state: an instance of Money');
    } finally {
      await store.dispose();
    }
  });

  const refused: [label: string, make: () => unknown, path: string][] = [
    ['a function', () => ({ f: () => 1 }), 'state.f'],
    ['a symbol', () => ({ s: Symbol('s') }), 'state.s'],
    ['a class instance inside a Map', () => ({ byId: new Map([['k', new Money(1)]]) }), 'state.byId.get("k")'],
    ['an object without a prototype', () => ({ index: Object.create(null) as object }), 'state.index'],
    ['a symbol-keyed property', () => ({ tags: { [Symbol('t')]: 1 } }), 'state.tags'],
    ['a class instance in an array', () => ({ list: [1, new Money(2)] }), 'state.list[1]'],
  ];
  for (const [label, make, path] of refused) {
    it(`store.snapshot() of a state holding ${label} is an UnserializableDataError naming the aggregate and ${path}`, async () => {
      const type = `Odd-${label.replace(/\W+/g, '-')}-${mode}`;
      const A = aggregateOf(type, make);
      const store = await openTestStore({ aggregates: [A], worker });
      try {
        await store.append('odd-1', [deposit(1)]);
        const error = await rejection(store.snapshot(A, 'odd-1'));
        expect(error).toBeInstanceOf(UnserializableDataError);
        const typed = error as UnserializableDataError;
        expect(typed.code).toBe('UNSERIALIZABLE');
        expect(typed.path).toBe(path);
        expect(typed.details).toMatchObject({ aggregateType: type, aggregateId: 'odd-1', path });
        expect(typed.message).toContain(`aggregate ${type} "odd-1"`);
        // Nothing was stored: loads fold the events, as before.
        expect((await store.load(A, 'odd-1')).snapshotVersion).toBe(0);
      } finally {
        await store.dispose();
      }
    });
  }
});

describe.each(modes)('projection state ($mode)', ({ worker }) => {
  it('a handler returning a class instance: get() is an UnserializableDataError, and the handler never sees the state storage would make of it', async () => {
    const seen: string[] = [];
    const Tally = defineProjection({
      name: 'tally',
      events: [Deposited],
      initialState: (): Money | null => null,
      handlers: {
        Deposited: (s, e) => {
          seen.push(s === null ? 'null' : s instanceof Money ? 'Money' : 'plain object');
          return (s ?? new Money(0)).plus(e.data.cents);
        },
      },
    });
    const store = await openTestStore({ aggregates: [Account], worker });
    try {
      await store.append('w', [deposit(1)]);
      const first = await rejection(store.projection(Tally).get());
      expect(first).toBeInstanceOf(UnserializableDataError);
      expect(first).toMatchObject({ code: 'UNSERIALIZABLE', path: 'state', details: { projection: 'tally' } });
      expect((first as Error).message).toContain('projection "tally"');
      expect((first as Error).message).toContain('an instance of Money');
      await store.append('w', [deposit(2)]);
      expect(await rejection(store.projection(Tally).get())).toBeInstanceOf(UnserializableDataError);
      expect(seen).not.toContain('plain object');
    } finally {
      await store.dispose();
    }
  });

  for (const [label, make] of [
    ['a function', () => () => 1],
    ['a symbol', () => Symbol('s')],
  ] as const) {
    it(`${label} in its state is an UnserializableDataError naming it and the path; it goes on once its state can be stored`, async () => {
      // A negative deposit leaves a value storage cannot keep in the state; the next one takes it out again.
      const Flagged = defineProjection({
        name: 'flagged',
        events: [Deposited],
        initialState: () => ({ n: 0 }) as { n: number; odd?: unknown },
        handlers: { Deposited: (s, e) => (e.data.cents < 0 ? { n: s.n + 1, odd: make() } : { n: s.n + 1 }) },
      });
      const name = uniqueStoreName('state-storage');
      try {
        const store = await openTestStore({ name, aggregates: [Account], worker });
        try {
          await store.append('w', [deposit(1)]);
          expect((await store.projection(Flagged).get()).state).toEqual({ n: 1 });
          await store.append('w', [deposit(-1)]);
          const error = await rejection(store.projection(Flagged).get());
          expect(error).toBeInstanceOf(UnserializableDataError);
          expect(error).toMatchObject({ path: 'state.odd', details: { projection: 'flagged', path: 'state.odd' } });
          // Its stored record stayed at the last state it could store, and the next catch-up folds on from there.
          await store.append('w', [deposit(1)]);
          expect(await store.projection(Flagged).get()).toMatchObject({ state: { n: 3 }, applied: 3 });
        } finally {
          await store.close();
        }
        const again = await openTestStore({ name, aggregates: [Account], worker });
        try {
          expect(await again.projection(Flagged).get()).toMatchObject({ state: { n: 3 }, applied: 3 });
        } finally {
          await again.close();
        }
      } finally {
        await deleteTestDatabase(name);
      }
    });
  }

  it('a handler that changes its state in place (pushes a class instance into an array it had) is caught at a later commit too', async () => {
    // More events than one scan batch (12,000), so the fold commits twice: the first batch leaves plain data,
    // the last event pushes a Money into the same array of the same state object.
    const total = 12_500;
    const Ledger = defineProjection({
      name: 'ledger',
      events: [Deposited],
      initialState: () => ({ n: 0, entries: [] as unknown[] }),
      handlers: {
        Deposited: (s, e) => {
          s.n++;
          if (s.n === 1) s.entries.push(0);
          if (e.data.cents === 1) s.entries.push(new Money(1));
          return s;
        },
      },
    });
    const store = await openTestStore({ aggregates: [Account], worker });
    try {
      await store.append(
        'w',
        Array.from({ length: total }, (_, i) => deposit(i === total - 1 ? 1 : 0)),
      );
      const error = await rejection(store.projection(Ledger).get());
      expect(error).toBeInstanceOf(UnserializableDataError);
      expect(error).toMatchObject({ path: 'state.entries[1]', details: { projection: 'ledger' } });
    } finally {
      await store.dispose();
    }
  });

  it('a state left unstorable at the end of one scan batch is not stored, and the fold goes on to the next batch', async () => {
    // More events than one scan batch (12,000): the first batch ends on a state with a function, the last one without.
    const total = 12_500;
    const Last = defineProjection({
      name: 'last',
      events: [Deposited],
      initialState: () => ({ n: 0 }) as { n: number; pending?: () => number },
      handlers: { Deposited: (s, e) => (e.data.cents === 1 ? { n: s.n + 1 } : { n: s.n + 1, pending: () => s.n }) },
    });
    const store = await openTestStore({ aggregates: [Account], worker });
    try {
      await store.append(
        'w',
        Array.from({ length: total }, (_, i) => deposit(i === total - 1 ? 1 : 0)),
      );
      expect(await store.projection(Last).get()).toMatchObject({ state: { n: total }, applied: total });
    } finally {
      await store.dispose();
    }
  });

  it('a state storage keeps (Map, Date, -0, undefined) reads the same live and after reopening', async () => {
    const Kept = defineProjection({
      name: 'kept',
      events: [Deposited],
      initialState: () => ({ byCents: new Map<number, number>(), at: new Date(0), zero: -0, none: undefined as undefined }),
      handlers: {
        Deposited: (s, e) => ({ ...s, byCents: new Map(s.byCents).set(e.data.cents, (s.byCents.get(e.data.cents) ?? 0) + 1) }),
      },
    });
    const name = uniqueStoreName('state-storage');
    try {
      const store = await openTestStore({ name, aggregates: [Account], worker });
      let live: unknown;
      try {
        await store.append('w', [deposit(5), deposit(5)]);
        live = (await store.projection(Kept).get()).state;
      } finally {
        await store.close();
      }
      const again = await openTestStore({ name, aggregates: [Account], worker });
      try {
        const reopened = (await again.projection(Kept).get()).state;
        expect(reopened).toEqual(live);
        expect(reopened.byCents).toBeInstanceOf(Map);
        expect(reopened.at).toBeInstanceOf(Date);
        expect(Object.is(reopened.zero, -0)).toBe(true);
        expect('none' in reopened).toBe(true);
      } finally {
        await again.close();
      }
    } finally {
      await deleteTestDatabase(name);
    }
  });
});

describe('devtools over a state holding a revoked Proxy (a leaked Immer draft)', () => {
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };
  const throwingProto = new Proxy(
    {},
    {
      getPrototypeOf: () => {
        throw new Error('proto trap');
      },
    },
  );
  const isUnreadable = (value: Encoded | undefined) => value?.t === 'opaque' && value.v.startsWith('(unreadable:');

  it('encodes it as an unreadable value, at the top and inside a state', () => {
    const encoder = createEncoder();
    expect(isUnreadable(encoder.encode(revoked()))).toBe(true);
    expect(isUnreadable(encoder.encode(throwingProto))).toBe(true);
    const node = encoder.encode({ ok: 1, draft: revoked(), trap: throwingProto }) as EncodedContainer;
    expect(node.items?.map((item) => item.key)).toEqual(['ok', 'draft', 'trap']);
    expect(node.items?.[0]?.value).toEqual({ t: 'number', v: '1' });
    expect(isUnreadable(node.items?.[1]?.value)).toBe(true);
    expect(isUnreadable(node.items?.[2]?.value)).toBe(true);
  });

  it('a Proxy of a Map (instanceof Map, but it cannot be iterated) shows as unreadable', () => {
    const encoder = createEncoder();
    expect(isUnreadable(encoder.encode(new Proxy(new Map([[1, 2]]), {})))).toBe(true);
  });

  it('diffs it as a changed value instead of throwing', () => {
    const encoder = createEncoder();
    const encode = (value: unknown) => encoder.encode(value, 40);
    const top = diffValues({ v: 1 }, revoked(), encode);
    expect(top.changes).toHaveLength(1);
    expect(top.changes[0]).toMatchObject({ path: '', kind: 'changed' });
    expect(isUnreadable(top.changes[0]?.after)).toBe(true);
    const inside = diffValues({ a: 1, p: 1 }, { a: 2, p: throwingProto }, encode);
    expect(inside.changes.map((c) => c.path)).toEqual(['.a', '.p']);
    expect(isUnreadable(inside.changes[1]?.after)).toBe(true);
    const draft = revoked();
    expect(diffValues({ p: draft }, { p: draft }, encode).changes).toEqual([]);
  });
});
