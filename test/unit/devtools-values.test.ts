// Safe, lazy encoding of states for display, and the structural diff.
import { describe, expect, it } from 'vitest';
import { createEncoder, previewText, type Encoded, type EncodedContainer } from '../../src/devtools/encode.ts';
import { diffValues } from '../../src/devtools/diff.ts';

const container = (value: Encoded): EncodedContainer => {
  if (value.t !== 'object' && value.t !== 'array' && value.t !== 'map' && value.t !== 'set') throw new Error(`not a container: ${value.t}`);
  return value;
};

describe('encode', () => {
  it('keeps what JSON loses: Map, Set, Date, undefined, bigint, NaN, -0, class names', () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const encoder = createEncoder();
    const encoded = encoder.encode({
      lines: new Map([['tea', { qty: 2 }]]),
      tags: new Set(['rush', 'gift']),
      at: new Date(Date.UTC(2026, 0, 2)),
      gone: undefined,
      big: 10n,
      nan: Number.NaN,
      negativeZero: -0,
      price: new Money(450),
      fn: function total() {},
    });
    // It survives JSON unchanged (extension ports speak JSON).
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded);
    const root = container(encoded);
    const item = (key: string) => root.items!.find((i) => i.key === key)!.value;
    const lines = container(item('lines'));
    expect(lines).toMatchObject({ t: 'map', name: 'Map', size: 1 });
    expect(lines.items![0]).toEqual({
      mapKey: { t: 'string', v: 'tea', length: 3 },
      value: { t: 'object', name: 'Object', size: 1, items: [{ key: 'qty', value: { t: 'number', v: '2' } }], offset: 0 },
    });
    expect(previewText(item('tags'))).toBe('Set(2) {"rush", "gift"}');
    expect(item('at')).toEqual({ t: 'date', v: '2026-01-02T00:00:00.000Z' });
    expect(item('gone')).toEqual({ t: 'undefined' });
    expect(item('big')).toEqual({ t: 'bigint', v: '10n' });
    expect(item('nan')).toEqual({ t: 'number', v: 'NaN' });
    expect(item('negativeZero')).toEqual({ t: 'number', v: '-0' });
    expect(item('price')).toMatchObject({ t: 'object', name: 'Money', size: 1 });
    expect(item('fn')).toEqual({ t: 'function', v: 'ƒ total()' });
    expect(previewText(encoded)).toContain('lines: Map(1) {…}');
  });

  it('marks cycles instead of following them, and shares are not cycles', () => {
    const shared = { n: 1 };
    const node: Record<string, unknown> = { name: 'root', a: shared, b: shared };
    node.self = node;
    const root = container(createEncoder().encode(node));
    const value = (key: string) => root.items!.find((i) => i.key === key)!.value;
    expect(value('self')).toEqual({ t: 'circular', v: '[Circular Object]' });
    expect(value('a')).toMatchObject({ t: 'object', size: 1 });
    expect(value('b')).toMatchObject({ t: 'object', size: 1 });
  });

  it('spends a bounded budget: big containers and deep parts come back with refs to expand', () => {
    const encoder = createEncoder({ pageSize: 100 });
    const big: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) big[`k${i}`] = i;
    let chain: Record<string, unknown> = { end: true };
    for (let i = 0; i < 500; i++) chain = { next: chain };
    const root = container(encoder.encode({ big, deep: chain }, 150));
    const bigNode = container(root.items![0]!.value);
    expect(bigNode.size).toBe(10_000);
    expect(bigNode.items).toHaveLength(100);
    expect(bigNode.ref).toBeDefined();
    const next = container(encoder.expand(bigNode.ref!, 100));
    expect(next.offset).toBe(100);
    expect(next.items![0]).toEqual({ key: 'k100', value: { t: 'number', v: '100' } });
    expect(next.items).toHaveLength(100);
    // Past the budget, deeper containers are stubs with a ref.
    let deep = container(root.items![1]!.value);
    const path: string[] = [];
    while (deep.items) {
      path.push(deep.items[0]!.key!);
      deep = container(deep.items[0]!.value);
    }
    expect(deep.ref).toBeDefined();
    expect(path.length).toBeGreaterThan(10);
    expect(path.length).toBeLessThan(60);
    const filled = container(encoder.expand(deep.ref!));
    expect(filled.items).toBeDefined();
  });

  it('cuts long strings, with a ref to the whole one', () => {
    const encoder = createEncoder({ maxString: 10 });
    const long = 'x'.repeat(5000);
    const encoded = encoder.encode(long);
    expect(encoded).toMatchObject({ t: 'string', v: 'xxxxxxxxxx', length: 5000 });
    const full = encoder.expand((encoded as { ref: string }).ref);
    expect(full).toEqual({ t: 'string', v: long, length: 5000 });
  });

  it('forgets the oldest refs past its bound, and says so', () => {
    const encoder = createEncoder({ maxRefs: 1, maxString: 1 });
    const first = encoder.encode('abc') as { ref: string };
    encoder.encode('def');
    expect(() => encoder.expand(first.ref)).toThrowError(expect.objectContaining({ code: 'EXPIRED' }));
  });

  it('survives getters that throw and hostile proxies', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys for you');
        },
      },
    );
    const value = {
      get broken() {
        throw new Error('boom');
      },
      hostile,
    };
    const root = container(createEncoder().encode(value));
    expect(root.items![0]!.value).toEqual({ t: 'opaque', v: '(unreadable: Error: boom)' });
    expect(root.items![1]!.value).toMatchObject({ t: 'object', size: 0 });
  });

  it('survives getters that throw values without text (Object.create(null), a revoked proxy)', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const value = {
      get bare() {
        throw Object.create(null);
      },
      get revoked() {
        throw proxy;
      },
      fine: 1,
    };
    const root = container(createEncoder().encode(value));
    expect(root.items!.map((item) => item.value)).toEqual([
      { t: 'opaque', v: '(unreadable: a value that cannot be shown)' },
      { t: 'opaque', v: '(unreadable: a value that cannot be shown)' },
      { t: 'number', v: '1' },
    ]);
  });
});

describe('diff', () => {
  const encode = (value: unknown) => createEncoder().encode(value, 20);
  const summary = (before: unknown, after: unknown, options?: Parameters<typeof diffValues>[3]) =>
    diffValues(before, after, encode, options).changes.map((c) => `${c.kind} ${c.path}`);

  it('lists added, removed and changed paths in objects and arrays', () => {
    const before = { customerId: 'c', lines: { tea: { qty: 1, price: 4 } }, total: 4, tags: ['a', 'b'] };
    const after = { customerId: 'c', lines: { tea: { qty: 2, price: 4 }, 'cup-9': { qty: 1, price: 9 } }, total: 17, tags: ['a'] };
    expect(summary(before, after)).toEqual(['changed .lines.tea.qty', 'added .lines["cup-9"]', 'changed .total', 'removed .tags[1]']);
    const [qty] = diffValues(before, after, encode).changes;
    expect(qty).toEqual({ path: '.lines.tea.qty', kind: 'changed', before: { t: 'number', v: '1' }, after: { t: 'number', v: '2' } });
  });

  it('compares Maps by key and Sets by member', () => {
    const before = {
      items: new Map([
        ['a', 1],
        ['b', 2],
      ]),
      tags: new Set(['x', 'y']),
    };
    const after = {
      items: new Map([
        ['a', 1],
        ['b', 3],
        ['c', 4],
      ]),
      tags: new Set(['y', 'z']),
    };
    expect(summary(before, after)).toEqual([
      'changed .items.get("b")',
      'added .items.get("c")',
      'removed .tags (member)',
      'added .tags (member)',
    ]);
  });

  it('skips shared parts at once and stays bounded on huge states', () => {
    const shared: Record<string, number> = {};
    for (let i = 0; i < 100_000; i++) shared[`k${i}`] = i;
    const before = { shared, n: 1 };
    const after = { shared, n: 2 };
    expect(summary(before, after)).toEqual(['changed .n']);
    const many = Array.from({ length: 1000 }, (_, i) => i);
    const result = diffValues(
      many,
      many.map((n) => n + 1),
      encode,
      { maxChanges: 10 },
    );
    expect(result.changes).toHaveLength(10);
    expect(result.truncated).toBe(true);
  });

  it('counts equal items and holes toward maxVisits: a huge equal or sparse array is cut short, said truncated', () => {
    const sparseA: unknown[] = [];
    sparseA.length = 2 ** 32 - 1;
    const sparseB: unknown[] = [];
    sparseB.length = 2 ** 32 - 1;
    expect(diffValues(sparseA, sparseB, encode)).toEqual({ changes: [], truncated: true });
    const items = new Array<number>(1_000_000).fill(0);
    expect(diffValues({ items }, { items: items.slice() }, encode)).toEqual({ changes: [], truncated: true });
    // Within the budget, equal is equal.
    expect(diffValues({ items }, { items: items.slice() }, encode, { maxVisits: 2_000_000 })).toEqual({ changes: [], truncated: false });
    const keys = new Map(items.slice(0, 1000).map((_, i) => [i, i]));
    expect(diffValues(keys, new Map(keys), encode, { maxVisits: 100 }).truncated).toBe(true);
    expect(diffValues(new Set(keys.keys()), new Set(keys.keys()), encode, { maxVisits: 100 }).truncated).toBe(true);
  });

  it('terminates on cycles and reports type changes', () => {
    const a: Record<string, unknown> = { v: 1 };
    a.self = a;
    const b: Record<string, unknown> = { v: 2 };
    b.self = b;
    expect(summary(a, b)).toEqual(['changed .v']);
    expect(summary({ x: [1] }, { x: { 0: 1 } })).toEqual(['changed .x']);
    expect(summary(new Date(1), new Date(1))).toEqual([]);
    expect(summary(null, { a: 1 })).toEqual(['changed ']);
  });
});
