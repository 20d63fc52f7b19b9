import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findDataProblem } from '../../src/core/data-check.ts';
import { defineEvent } from '../../src/core/event.ts';
import { createRegistry } from '../../src/core/registry.ts';

/** findDataProblem: an event's data judged as a reader of the app's definitions reads it (src/core/data-check.ts). */

const ItemAdded = defineEvent({
  type: 'ItemAdded',
  version: 2,
  schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive(), tags: z.array(z.string()).default([]) }),
  upcasters: {
    1: (data: { sku: string; quantity: unknown }) => {
      if (data.quantity === 'boom') throw new Error('cannot read this one');
      return { sku: data.sku, qty: data.quantity };
    },
  },
});
const registry = createRegistry({ events: [ItemAdded] });
const check = (type: string, version: number, data: unknown) => findDataProblem(registry, { id: 'e1', type, version, data });

describe('findDataProblem', () => {
  it('passes data the current schema takes, defaults and unknown keys included', () => {
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1 })).toBeUndefined();
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1, tags: ['a'], extra: true })).toBeUndefined();
  });

  it("names the first field the current schema refuses, nested paths as the app's errors write them", () => {
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 'lots' })).toMatchObject({ path: 'data.qty' });
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1, tags: ['a', 7] })).toMatchObject({ path: 'data.tags[1]' });
    expect(check('ItemAdded', 2, null)).toMatchObject({ path: 'data' });
  });

  it('reads an older version through its upcasters: a result the schema refuses, or an upcaster that throws, is a problem', () => {
    expect(check('ItemAdded', 1, { sku: 'tea', quantity: 3 })).toBeUndefined();
    expect(check('ItemAdded', 1, { sku: 'tea', quantity: 0 })).toMatchObject({ path: 'data.qty' });
    expect(check('ItemAdded', 1, { sku: 'tea', quantity: 'boom' })).toMatchObject({
      path: 'data',
      reason: expect.stringMatching(/cannot read this one/),
    });
  });

  it('passes what it cannot judge: a type not defined, a newer version, an encrypted envelope', () => {
    expect(check('Unknown', 1, 'anything')).toBeUndefined();
    expect(check('ItemAdded', 3, { qty: 'a newer build decides' })).toBeUndefined();
    expect(check('ItemAdded', 2, { $enc: 1, kid: 'k', iv: 'i', ct: 'c' })).toBeUndefined();
    // Not an envelope (a fifth key): judged as data.
    expect(check('ItemAdded', 2, { $enc: 1, kid: 'k', iv: 'i', ct: 'c', qty: 1 })).toMatchObject({ path: 'data.sku' });
  });
});
