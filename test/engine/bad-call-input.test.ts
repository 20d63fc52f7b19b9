// What an app in plain JavaScript (or a value cast on its way in) may pass where the types say
// otherwise: every call refuses it with a typed ChronicleError naming the argument, never a
// TypeError from inside the store ("Cannot read properties of null"), and stores nothing.
import { describe, expect, it } from 'vitest';
import { ChronicleError, ConfigError } from '../../src/core/index.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/** A value of any shape, as a JavaScript caller may pass. */
const loose = (value: unknown): never => value as never;

/** What `run` throws or rejects with. */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe.each(modes)('calls given arguments their types rule out ($mode)', ({ worker }) => {
  it('refuses each with a typed error naming the argument, and stores nothing', async () => {
    const store = await openOrderStore(worker, { projections: [Revenue] });
    try {
      const cases: [string, () => unknown, string, string][] = [
        ['appendBatch([null])', () => store.appendBatch([loose(null)]), 'VALIDATION', 'entries[0]'],
        ['load(null, id)', () => store.load(loose(null), 'o1'), 'VALIDATION', 'aggregate'],
        ['snapshot({}, id)', () => store.snapshot(loose({ type: 'X' }), 'o1'), 'VALIDATION', 'aggregate'],
        ['inspect(Order, id, undefined)', () => store.inspect(Order, 'o1', loose(undefined)), 'VALIDATION', 'options'],
        ['inspectProjection(null, {})', () => store.inspectProjection(loose(null), {}), 'VALIDATION', 'projection'],
        ['replay(undefined)', () => store.replay(loose(undefined)), 'VALIDATION', 'options'],
        ['projection(null)', () => store.projection(loose(null)), 'VALIDATION', 'projection'],
        ['importLog(5)', () => store.importLog(loose(5)), 'VALIDATION', 'source'],
        ['importLog(null)', () => store.importLog(loose(null)), 'VALIDATION', 'source'],
        ['sync.dismissRejected("x")', () => store.sync.dismissRejected(loose('x')), 'VALIDATION', 'ids'],
        [
          'metrics.subscribe(fn, { intervalMs: NaN })',
          () => store.metrics.subscribe(() => undefined, { intervalMs: Number.NaN }),
          'VALIDATION',
          'intervalMs',
        ],
      ];
      for (const [call, run, code, path] of cases) {
        const error = await failure(run);
        expect(
          error instanceof ChronicleError ? { call, code: error.code, path: (error as { path?: unknown }).path } : { call, error },
        ).toEqual({
          call,
          code,
          path,
        });
        // An argument is not an event: the message says which argument, not "Invalid ? event".
        if (code === 'VALIDATION')
          expect((error as Error).message, call).toMatch(new RegExp(`^Invalid argument: ${path.replace(/[[\]]/g, '\\$&')}: `));
      }
      expect(await collect(store.readLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('answers an append of no events without an aggregate as the no-op it is (it named no aggregate to own them)', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      expect(await store.append('o1', [])).toMatchObject({ nextExpectedVersion: 1, createdNewStream: false, events: [] });
      expect(await store.append('o2', [])).toMatchObject({ nextExpectedVersion: 0, events: [] });
      await expect(store.append('o1', [], { expectedVersion: 'no-stream' })).rejects.toMatchObject({ code: 'CONCURRENCY' });
    } finally {
      await store.dispose();
    }
  });

  it('refuses openStore with a definition list that is not an array of definitions, with ConfigError', async () => {
    for (const [option, value] of [
      ['aggregates', Order],
      ['projections', [{ name: 'revenue' }]],
      ['events', 'OrderPlaced'],
    ] as const) {
      const error = await failure(() => openTestStore({ ...model, name: uniqueStoreName('bad-options'), worker, [option]: loose(value) }));
      expect(error).toMatchObject({ code: 'CONFIG', details: { option } });
    }
  });

  it('refuses calls that need what the store was not opened with, with ConfigError (the class, as the README says)', async () => {
    const store = await openOrderStore(worker);
    try {
      const cases: [string, () => unknown][] = [
        ['sync.syncNow() without sync', () => store.sync.syncNow()],
        ['reactions.retry of a reaction not registered', () => store.reactions.retry('nope', 'some-event')],
        ['reactions.skip of a reaction not registered', () => store.reactions.skip('nope', 'some-event')],
      ];
      for (const [what, run] of cases) {
        const error = await failure(run);
        expect(error, what).toBeInstanceOf(ConfigError);
        expect(error, what).toMatchObject({ code: 'CONFIG' });
      }
    } finally {
      await store.dispose();
    }
  });

  it('refuses openStore with two reactions of one name before it opens anything (no database is made)', async () => {
    const name = uniqueStoreName('duplicate-reactions');
    const notify = defineReaction({ name: 'notify', events: [ItemAdded], handlers: { ItemAdded: async () => undefined } });
    const error = await failure(() => openTestStore({ ...model, name, worker, reactions: [notify, { ...notify }] }));
    expect(error).toMatchObject({ code: 'CONFIG', details: { reaction: 'notify' } });
    expect((await indexedDB.databases()).filter((database) => database.name?.includes(name))).toEqual([]);
  });
});
