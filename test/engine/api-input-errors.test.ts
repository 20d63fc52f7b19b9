// An outsider audit's finds: calls given values their types rule out (from plain JavaScript, or cast) that were
// refused with the wrong error, or none. The README promises a typed ChronicleError naming the argument and why,
// before anything is written: each case here says the error it expects, and checks that nothing stored changed.
import { describe, expect, it } from 'vitest';
import { deleteStore } from '../../src/client/index.ts';
import { ChronicleError } from '../../src/core/index.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes, openOrderStore } from './modes.ts';

/** A value of any shape, as a JavaScript caller may pass. */
const loose = (value: unknown): never => value as never;

/** What `run` throws or rejects with, as the facts a test compares (an untyped error as itself). */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof ChronicleError)) return error;
    const { path, index } = error as { path?: unknown; index?: unknown };
    return { class: error.constructor.name, code: error.code, path, index, message: error.message, details: error.details };
  }
  throw new Error('expected the call to fail');
}

const placed = { type: 'OrderPlaced' as const, data: { customerId: 'c1' } };

describe.each(modes)('API input errors ($mode)', ({ worker }) => {
  it('reactions.retry and skip given a reaction name or event id that is not a string: ValidationError naming it', async () => {
    const charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1,
      handlers: {
        ItemAdded: () => {
          throw new Error('declined');
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [charge] });
    try {
      await store.append('o1', [placed, { type: 'ItemAdded', data: { sku: 'a', qty: 1, price: 1 } }]);
      await eventually(async () => expect(await store.reactions.parked('charge')).toHaveLength(1));
      const parkedBefore = await store.reactions.parked();
      for (const call of ['retry', 'skip'] as const) {
        for (const id of [undefined, null, {}, Number.NaN, 5, []]) {
          expect(await failure(() => store.reactions[call]('charge', loose(id))), `${call}(${String(id)})`).toMatchObject({
            class: 'ValidationError',
            code: 'VALIDATION',
            path: 'eventId',
            message: expect.stringMatching(/^Invalid argument: eventId: must be a string/),
          });
        }
        for (const name of [undefined, null, 5, {}]) {
          expect(
            await failure(() => store.reactions[call](loose(name), parkedBefore[0]!.eventId)),
            `${call} name ${String(name)}`,
          ).toMatchObject({
            class: 'ValidationError',
            path: 'reaction',
          });
        }
      }
      expect(await failure(() => store.reactions.parked(loose({})))).toMatchObject({ class: 'ValidationError', path: 'reaction' });
      // Nothing of the parked event changed: not retried, not skipped.
      expect(await store.reactions.parked()).toEqual(parkedBefore);
    } finally {
      await store.dispose();
    }
  });

  it('importLog given lines that are not strings: ValidationError naming the line, nothing stored', async () => {
    const store = await openOrderStore(worker);
    try {
      const line = JSON.stringify({
        id: 'e1',
        aggregateId: 'o1',
        aggregateType: 'Order',
        seq: 1,
        type: 'OrderPlaced',
        version: 1,
        data: { customerId: 'c' },
        meta: { occurredAt: 1, clientId: 'x', clientSeq: 1 },
        position: 1,
      });
      const cases: [string, unknown, number][] = [
        ['[5]', [5], 1],
        ['[null]', [null], 1],
        ['[a parsed event]', [JSON.parse(line)], 1],
        ['[line, undefined]', [line, undefined], 2],
        ['a Uint8Array', new Uint8Array([123]), 1],
        [
          'an async iterable of numbers',
          (async function* () {
            yield 7;
          })(),
          1,
        ],
      ];
      for (const [what, source, lineNo] of cases) {
        expect(await failure(() => store.importLog(loose(source))), what).toMatchObject({
          class: 'ValidationError',
          code: 'VALIDATION',
          details: { line: lineNo },
          message: expect.stringMatching(new RegExp(`^Invalid imported event: line ${lineNo}: not a line of text`)),
        });
      }
      expect(await collect(store.readLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('append of events that are not objects with a string type: ValidationError naming the event, whatever the options', async () => {
    const store = await openOrderStore(worker);
    try {
      const [Order] = model.aggregates;
      for (const options of [undefined, { aggregate: Order }, { aggregateType: 'Order' }]) {
        for (const [what, event] of [
          ['null', null],
          ['undefined', undefined],
          ['42', 42],
          ['"OrderPlaced"', 'OrderPlaced'],
          ['[]', []],
        ] as const) {
          expect(
            await failure(() => store.append('o1', [placed, loose(event)], options)),
            `${what} ${JSON.stringify(options)}`,
          ).toMatchObject({
            class: 'ValidationError',
            path: 'events[1]',
            index: 1,
            message: expect.stringContaining('not an event object'),
          });
        }
        for (const [what, event, got] of [
          ['{}', {}, 'undefined'],
          ['{ type: 5 }', { type: 5 }, '5'],
          ['{ type: null }', { type: null }, 'null'],
        ] as const) {
          expect(await failure(() => store.append('o1', [loose(event)], options)), `${what} ${JSON.stringify(options)}`).toMatchObject({
            class: 'ValidationError',
            path: 'type',
            index: 0,
            message: `Invalid argument at index 0: type: must be a string, the event's type (got ${got})`,
          });
        }
      }
      expect(await failure(() => store.append('o1', [placed], loose(null)))).toMatchObject({ class: 'ValidationError', path: 'options' });
      expect(await failure(() => store.appendBatch([{ aggregateId: 'o1', events: [loose(null)] }]))).toMatchObject({
        class: 'ValidationError',
        path: 'events[0]',
      });
      expect(await collect(store.readLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it("expectedVersion that is not 'any', 'no-stream' or a version: ValidationError showing the value as given", async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [placed]);
      for (const [value, shown] of [
        ['3', '"3"'],
        ['', '""'],
        [2 ** 60, String(2 ** 60)],
        [Number.MAX_SAFE_INTEGER + 1, String(Number.MAX_SAFE_INTEGER + 1)],
        [-1, '-1'],
        [1.5, '1.5'],
        [Number.NaN, 'NaN'],
        [Number.POSITIVE_INFINITY, 'Infinity'],
        [{}, 'an object'],
        // Not 'any': a null version (state not loaded yet, a JSON field) must not turn the check off unnoticed.
        [null, 'null'],
      ] as const) {
        expect(await failure(() => store.append('o1', [placed], { expectedVersion: loose(value) })), String(value)).toMatchObject({
          class: 'ValidationError',
          path: 'expectedVersion',
          message: `Invalid argument: expectedVersion: must be 'any', 'no-stream' or a version (a non-negative safe integer) (got ${shown})`,
        });
      }
      // The largest version there can be is still a version: a mismatch, as any other.
      expect(await failure(() => store.append('o1', [placed], { expectedVersion: Number.MAX_SAFE_INTEGER }))).toMatchObject({
        code: 'CONCURRENCY',
      });
      expect(await collect(store.readLog())).toHaveLength(1);
    } finally {
      await store.dispose();
    }
  });

  it('subscriptions given a listener, onError or definition that is not one: ValidationError at once, not a TypeError later', async () => {
    const store = await openTestStore({ ...model, worker });
    const listener = () => undefined;
    try {
      const cases: [string, () => unknown, string][] = [
        ['subscribe(null)', () => store.subscribe(loose(null), 'o1', listener), 'aggregate'],
        ['subscribe({ type })', () => store.subscribe(loose({ type: 'Order' }), 'o1', listener), 'aggregate'],
        ['subscribe listener null', () => store.subscribe(Order, 'o1', loose(null)), 'listener'],
        ["subscribe onError 'x'", () => store.subscribe(Order, 'o1', listener, loose('x')), 'onError'],
        ['projection listener null', () => store.projection(Revenue).subscribe(loose(null)), 'listener'],
        ["projection onError 'x'", () => store.projection(Revenue).subscribe(listener, loose('x')), 'onError'],
        ['timeTravel listener 5', () => store.timeTravel.subscribe(loose(5)), 'listener'],
      ];
      for (const [what, call, path] of cases) {
        expect(await failure(call), what).toMatchObject({ class: 'ValidationError', code: 'VALIDATION', path });
      }
    } finally {
      await store.dispose();
    }
  });

  it('options given as null are no options, as left out: reads, exports, metrics, rebuild and deleteStore run', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [placed]);
      expect(await collect(store.readLog(loose(null)))).toHaveLength(1);
      expect((await collect(store.scan(loose(null)))).flat()).toHaveLength(1);
      expect(await collect(store.exportLog(loose(null)))).toHaveLength(1);
      expect(await collect(store.readStream('o1', loose(null)))).toHaveLength(1);
      store.metrics.subscribe(() => undefined, loose(null))();
      await store.projection(Revenue).rebuild(loose(null));
      expect(await deleteStore(uniqueStoreName('never-opened'), loose(null))).toMatchObject({ deleted: false });
    } finally {
      await store.dispose();
    }
  });

  it('replay, rebuild and compact given a signal or onProgress that is not one: ConfigError before the job starts', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [placed]);
      const handler = () => undefined;
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        ['replay signal {}', () => store.replay({ handler, signal: loose({}) }), /^replay signal must be an AbortSignal \(got an object\)/],
        ['replay onProgress 5', () => store.replay({ handler, onProgress: loose(5) }), /^replay onProgress must be a function \(got 5\)/],
        ['rebuild signal {}', () => store.projection(Revenue).rebuild({ signal: loose({}) }), /^rebuild signal must be an AbortSignal/],
        [
          'rebuild onProgress 5',
          () => store.projection(Revenue).rebuild({ onProgress: loose(5) }),
          /^rebuild onProgress must be a function/,
        ],
        ['compact signal {}', () => store.compact({ signal: loose({}) }), /^compact signal must be an AbortSignal/],
      ];
      for (const [what, call, message] of cases) {
        expect(await failure(call), what).toMatchObject({ class: 'ConfigError', code: 'CONFIG', message: expect.stringMatching(message) });
      }
    } finally {
      await store.dispose();
    }
  });

  it('an onError or time-travel listener that throws keeps neither close() nor the live views from going on', async () => {
    const store = await openOrderStore(worker);
    await store.append('o1', [placed]);
    const shown: number[] = [];
    store.subscribe(
      Order,
      'o1',
      (result) => shown.push(result.version),
      () => {
        throw new Error('app bug in onError');
      },
    );
    store.projection(Revenue).subscribe(
      () => undefined,
      () => {
        throw new Error('app bug in onError');
      },
    );
    store.timeTravel.subscribe(() => {
      throw new Error('app bug in a travel listener');
    });
    await eventually(() => expect(shown).toEqual([1]));
    const [first] = await collect(store.scan());
    // The failing travel listener does not keep the live view from following the travel and the resume.
    store.timeTravel.to(first![0]!.cursor);
    store.timeTravel.resume();
    await store.append('o1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1, price: 1 } }]);
    await eventually(() => expect(shown.at(-1)).toBe(2));
    // close() used to reject with the onError's throw, leaving its jobs, reactions and engine open.
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.load(Order, 'o1')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await store.dispose(); // the close is done: this deletes the test's database
  });
});

describe('openStore worker option', () => {
  it('that is no worker (a number, an object without postMessage, a function returning neither): ConfigError, not a TypeError from inside comlink', async () => {
    for (const worker of [5, {}, () => 5]) {
      expect(await failure(() => openTestStore({ ...model, worker: loose(worker) })), String(worker)).toMatchObject({
        class: 'ConfigError',
        code: 'CONFIG',
        message: expect.stringMatching(/^worker must be false, true, 'auto', a Worker, a function returning one, or the URL/),
      });
    }
  });
});
