// Upcasting (src/core/registry.ts): an old event reads in the current shape, and only in a shape
// the current schema accepts. A buggy upcaster must fail loudly on read, naming the event and the
// field, instead of handing reducers a total of NaN; what it returns reads as a fresh append of it
// would have (defaults filled, unknown keys dropped).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { ChronicleError } from '../../src/core/errors.ts';
import { defineEvent } from '../../src/core/event.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { createRegistry } from '../../src/core/registry.ts';

const schema = z.object({ sku: z.string(), qty: z.number().int().positive(), giftWrap: z.boolean().default(false) });

function stored(data: unknown, version = 1): StoredEvent {
  return {
    id: 'e1',
    aggregateId: 'o1',
    aggregateType: 'Order',
    seq: 1,
    type: 'ItemAdded',
    version,
    data,
    meta: { occurredAt: 1, clientId: 'c', clientSeq: 1 },
  };
}

function decodeWith(upcaster: (data: never) => unknown, data: unknown) {
  const ItemAdded = defineEvent({ type: 'ItemAdded', version: 2, schema, upcasters: { 1: upcaster } });
  return createRegistry({ events: [ItemAdded] }).decode(stored(data));
}

function upcastError(run: () => unknown): ChronicleError {
  try {
    run();
  } catch (error) {
    if (error instanceof ChronicleError) return error;
    throw error;
  }
  throw new Error('expected an UPCAST error');
}

describe('upcasting', () => {
  it('given an upcaster whose result the schema refuses, then reading the event throws UPCAST naming the event, version and field', () => {
    // A release renamed quantity to qty, and the upcaster forgot to turn the stored string into a number.
    const error = upcastError(() =>
      decodeWith((d: { sku: string; quantity: string }) => ({ sku: d.sku, qty: d.quantity }), { sku: 'a', quantity: '3' }),
    );
    expect(error.code).toBe('UPCAST');
    expect(error.message).toMatch(/^Upcasting ItemAdded e1 from version 1 gave data that version 2's schema refuses: data\.qty: /);
    expect(error.details).toMatchObject({ eventType: 'ItemAdded', from: 1, eventId: 'e1', path: 'data.qty' });
  });

  it('given an upcaster that leaves a field out or keeps an old one, then the event reads as a fresh append would: default filled, old field gone', () => {
    const event = decodeWith((d: { sku: string; quantity: number }) => ({ ...d, qty: d.quantity }), { sku: 'a', quantity: 3 });
    expect(event).toMatchObject({ known: true, version: 2, storedVersion: 1 });
    expect(event.data).toEqual({ sku: 'a', qty: 3, giftWrap: false });
  });

  it('given an event already at the current version, then its data is returned as stored, not parsed again (it was checked when appended)', () => {
    const ItemAdded = defineEvent({ type: 'ItemAdded', version: 2, schema, upcasters: { 1: (d) => d } });
    // Without the defaulted field: a read that parsed current events (every replay's hot path) would fill it in.
    const registry = createRegistry({ events: [ItemAdded] });
    expect(registry.decode(stored({ sku: 'a', qty: 1 }, 2)).data).toEqual({ sku: 'a', qty: 1 });
    expect(registry.decodeInPlace(stored({ sku: 'a', qty: 1 }, 2)).data).toEqual({ sku: 'a', qty: 1 });
  });

  it('types an unannotated upcaster parameter as unknown and accepts annotations, interfaces included', () => {
    interface ItemAddedV1 {
      sku: string;
      quantity: number;
    }
    const Annotated = defineEvent({
      type: 'ItemAdded',
      version: 2,
      schema,
      upcasters: { 1: (d: ItemAddedV1) => ({ sku: d.sku, qty: d.quantity }) },
    });
    const Unannotated = defineEvent({
      type: 'ItemAdded',
      version: 2,
      schema,
      upcasters: {
        1: (d) => {
          // Old shapes are history: the parameter says so instead of `never`, which let any property access through.
          expectTypeOf(d).toEqualTypeOf<unknown>();
          const old = d as ItemAddedV1;
          return { sku: old.sku, qty: old.quantity };
        },
      },
    });
    expect(createRegistry({ events: [Annotated] }).decode(stored({ sku: 'a', quantity: 2 })).data).toEqual({
      sku: 'a',
      qty: 2,
      giftWrap: false,
    });
    expect(createRegistry({ events: [Unannotated] }).decode(stored({ sku: 'b', quantity: 5 })).data).toEqual({
      sku: 'b',
      qty: 5,
      giftWrap: false,
    });
  });
});
