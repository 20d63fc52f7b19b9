import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findDataProblem } from '../../src/core/data-check.ts';
import { defineEvent } from '../../src/core/event.ts';
import { firstJsonDifference } from '../../src/core/json-diff.ts';
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
  it('passes data the current schema takes as it is', () => {
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1, tags: [] })).toBeUndefined();
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1, tags: ['a'] })).toBeUndefined();
  });

  it("names the first field the current schema refuses, nested paths as the app's errors write them", () => {
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 'lots', tags: [] })).toMatchObject({ path: 'data.qty' });
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

  it('passes what it cannot judge: a type not defined, a newer version; an encrypted envelope only where the app encrypts', () => {
    expect(check('Unknown', 1, 'anything')).toBeUndefined();
    expect(check('ItemAdded', 3, { qty: 'a newer build decides' })).toBeUndefined();
    const envelope = { $enc: 1, kid: 'k', iv: 'i', ct: 'c' };
    expect(check('ItemAdded', 2, envelope)).toMatchObject({ path: 'data', reason: expect.stringMatching(/encrypted/) });
    expect(
      findDataProblem(registry, { id: 'e1', type: 'ItemAdded', version: 2, data: envelope }, { allowEncrypted: true }),
    ).toBeUndefined();
    // Not an envelope (a fifth key): judged as data.
    expect(check('ItemAdded', 2, { $enc: 1, kid: 'k', iv: 'i', ct: 'c', qty: 1 })).toMatchObject({ path: 'data.sku' });
  });

  it('refuses current-version data the schema accepts only by changing it: readers get stored data as it is', () => {
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1, tags: [], role: 'admin' })).toMatchObject({
      path: 'data.role',
      reason: expect.stringMatching(/not a field/),
    });
    // `tags` has a default: data without it is not what an append of this build stores.
    expect(check('ItemAdded', 2, { sku: 'tea', qty: 1 })).toMatchObject({ path: 'data.tags', reason: expect.stringMatching(/missing/) });
    const Named = defineEvent({ type: 'Named', schema: z.object({ name: z.string().trim(), scores: z.record(z.string(), z.number()) }) });
    const named = createRegistry({ events: [Named] });
    const checkNamed = (data: unknown) => findDataProblem(named, { id: 'e2', type: 'Named', version: 1, data });
    expect(checkNamed({ name: 'Ann', scores: { a: 1 } })).toBeUndefined();
    expect(checkNamed({ name: ' Ann ', scores: {} })).toMatchObject({
      path: 'data.name',
      reason: expect.stringMatching(/changes this value/),
    });
    // JSON.parse makes "__proto__" an own key, which a record schema drops.
    expect(checkNamed(JSON.parse('{"name":"Ann","scores":{"__proto__":"not a number"}}'))).toMatchObject({ path: 'data.scores.__proto__' });
  });

  it("turns whatever the app's definitions throw into a problem of the event, never an exception", () => {
    const Odd = defineEvent({
      type: 'Odd',
      version: 2,
      schema: z.object({ when: z.string().transform((s) => new Date(s).toISOString()) }),
      upcasters: {
        1: (data: { kind: string }) => {
          if (data.kind === 'null-object') throw Object.create(null);
          if (data.kind === 'async') return Promise.reject(new Error('later')) as never;
          return { when: '2026-01-01T00:00:00.000Z' };
        },
      },
    });
    const odd = createRegistry({ events: [Odd] });
    const checkOdd = (version: number, data: unknown) => findDataProblem(odd, { id: 'e3', type: 'Odd', version, data });
    expect(checkOdd(2, { when: 'not a date' })).toMatchObject({ path: 'data', reason: expect.stringMatching(/threw/) });
    expect(checkOdd(1, { kind: 'null-object' })).toMatchObject({ path: 'data', reason: expect.stringMatching(/cannot be shown/) });
    expect(checkOdd(1, { kind: 'async' })).toMatchObject({ path: 'data', reason: expect.stringMatching(/returned a Promise/) });
  });
});

describe('firstJsonDifference', () => {
  it('ignores key order and treats a key holding undefined as absent; names the first path that differs', () => {
    expect(firstJsonDifference({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBeUndefined();
    expect(firstJsonDifference({ a: 1 }, { a: 1, b: undefined })).toBeUndefined();
    expect(firstJsonDifference({ a: [1, 2] }, { a: [1, 3] })).toEqual({ path: 'data.a[1]', left: 2, right: 3 });
    expect(firstJsonDifference({ a: [1] }, { a: { 0: 1 } })).toMatchObject({ path: 'data.a' });
    expect(firstJsonDifference(null, {})).toMatchObject({ path: 'data' });
  });
});
