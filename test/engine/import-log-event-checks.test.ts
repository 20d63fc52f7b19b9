import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Order } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

/**
 * importLog checks each line as the store checks an event it stores: the
 * stored-event shape (ids, links, counts, no field the format does not know),
 * the JSON data rules, and the app's schema where this build defines the
 * type. Given a file with one bad line after a good one, importLog refuses it
 * with a VALIDATION error naming the line and field, and stores nothing of it.
 * An event of a type this build does not define, or of a newer version, is
 * kept, as a sync pull keeps it, and read back with `known: false`.
 */

const event = (position: number, over: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: `srv-${position}`,
  aggregateId: `o${position}`,
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: `c${position}` },
  position,
  ...over,
  meta: { occurredAt: 1000 + position, clientId: 'someone', clientSeq: position, ...meta },
});

/** The line of `e` with its data nested `depth` levels of arrays deep, written as text (JSON.stringify of it would overflow the stack). */
const nestedLine = (e: Record<string, unknown>, depth: number): string =>
  JSON.stringify({ ...e, data: 0 }).replace('"data":0', `"data":${'['.repeat(depth)}1${']'.repeat(depth)}`);

describe.each(modes)('importLog: each line is an event the store could store ($mode)', ({ worker }) => {
  const bad: [string, string, Record<string, unknown> | string, RegExp][] = [
    ['data its schema refuses', 'data.customerId', event(2, { data: { customerId: 42 } }), /expected string/],
    [
      'data with a field the schema would drop',
      'data.note',
      event(2, { data: { customerId: 'c', note: 'x' } }),
      /not a field of the schema/,
    ],
    [
      'an older version its upcaster reads into data the schema refuses',
      'data.qty',
      event(2, { type: 'ItemAdded', data: { sku: 's', quantity: 'lots', price: 1 } }),
      /./,
    ],
    ['a string with a NUL', 'data.customerId', event(2, { data: { customerId: 'a\u0000b' } }), /NUL/],
    ['a string with a lone surrogate', 'data.customerId', event(2, { data: { customerId: 'a\uD800' } }), /lone surrogate/],
    ['an aggregate id of 10,000 characters', 'aggregateId', event(2, { aggregateId: 'z'.repeat(10_000) }), /at most 128/],
    ['an aggregate id with a NUL', 'aggregateId', event(2, { aggregateId: 'o\u00002' }), /NUL/],
    ['a field the format does not know', 'extra', event(2, { extra: 'kept?' }), /not a field of a stored event/],
    ['a meta field the format does not know', 'meta.tenant', event(2, {}, { tenant: 't1' }), /not a field of a stored event/],
    ['no clientSeq', 'meta.clientSeq', event(2, {}, { clientSeq: undefined }), /expected number/],
    ['an object correlationId', 'meta.correlationId', event(2, {}, { correlationId: { a: 1 } }), /expected string/],
    ['no data', 'data', event(2, { data: undefined }), /./],
    [
      'data nested 10,000 levels (of a type this build does not define)',
      'data',
      nestedLine(event(2, { type: 'Archived' }), 10_000),
      /nested more than 64 levels/,
    ],
  ];

  it.each(bad)('%s is VALIDATION naming line 2 and %s, nothing stored', async (_what, field, line2, reason) => {
    const store = await openTestStore({ ...model, worker });
    try {
      const error = await store
        .importLog([JSON.stringify(event(1)), typeof line2 === 'string' ? line2 : JSON.stringify(line2)])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ValidationError', code: 'VALIDATION', details: { line: 2 } });
      const { details, message } = error as { details: { field: string }; message: string };
      // A nested value's field is its path down to the level that is too deep: data[0][0]...
      expect(details.field.startsWith(field)).toBe(true);
      expect(message).toMatch(/line 2: /);
      expect(message).toMatch(reason);
      expect(await collect(store.exportLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('an event of a type this build does not define, or of a newer version, is imported as a sync pull stores it and read back unknown', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      const file = [
        event(1),
        event(2, { aggregateId: 'o1', seq: 2, type: 'OrderArchived', data: { anything: ['goes', 1] } }),
        event(3, { aggregateId: 'o1', seq: 3, type: 'ItemAdded', version: 3, data: { sku: 's', qty: 'shape of v3' } }),
      ].map((e) => JSON.stringify(e));
      expect(await store.importLog(file)).toEqual({ confirmed: 3, pending: 0 });
      const read = await collect(store.readStream('o1'));
      expect(read.map((e) => [e.type, e.known])).toEqual([
        ['OrderPlaced', true],
        ['OrderArchived', false],
        ['ItemAdded', false],
      ]);
      expect((await store.load(Order, 'o1')).unknownEvents).toBe(2);
    } finally {
      await store.dispose();
    }
  });

  it("a store's own export (pending events, older versions, links) imports whole into a new store", async () => {
    const source = await openTestStore({ ...model, worker });
    const scratch = await openTestStore({ ...model, worker });
    try {
      const old = event(1, { type: 'ItemAdded', data: { sku: 'tea', quantity: 2, price: 4.5 } }) as unknown as StoredEvent;
      await source.importConfirmed([old]);
      await source.append('o1', [{ type: 'ItemAdded', data: { sku: 'cup', qty: 1, price: 9 }, meta: { correlationId: 'req-7' } }]);
      const file = await collect(source.exportLog());
      expect(await scratch.importLog(file)).toEqual({ confirmed: 1, pending: 1 });
      expect(await collect(scratch.exportLog())).toEqual(file);
    } finally {
      await source.dispose();
      await scratch.dispose();
    }
  });
});
