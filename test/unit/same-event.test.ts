import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { sameJsonValue, sameStoredEvent } from '../../src/core/same-event.ts';

const event: StoredEvent = {
  id: 'e1',
  aggregateId: 'o1',
  aggregateType: 'Order',
  seq: 1,
  type: 'ItemAdded',
  version: 2,
  data: { sku: 'a', lines: [{ qty: 1 }, { qty: 2 }], note: null },
  meta: { occurredAt: 5, clientId: 'c', clientSeq: 1, correlationId: 'k' },
  position: 3,
};

describe('sameStoredEvent', () => {
  it('is true for the same event, whatever the order of its keys', () => {
    const reordered = JSON.parse(
      '{"position":3,"meta":{"correlationId":"k","clientSeq":1,"clientId":"c","occurredAt":5},"data":{"note":null,"lines":[{"qty":1},{"qty":2}],"sku":"a"},"version":2,"type":"ItemAdded","seq":1,"aggregateType":"Order","aggregateId":"o1","id":"e1"}',
    ) as StoredEvent;
    expect(sameStoredEvent(event, reordered)).toBe(true);
  });

  it('is false when any field differs', () => {
    const changes: Partial<StoredEvent>[] = [
      { id: 'e2' },
      { aggregateId: 'o2' },
      { aggregateType: 'Cart' },
      { seq: 2 },
      { type: 'ItemRemoved' },
      { version: 1 },
      { position: 4 },
      { meta: { occurredAt: 5, clientId: 'c', clientSeq: 1 } },
      { data: { sku: 'a', lines: [{ qty: 1 }, { qty: 2 }] } },
      { data: { sku: 'a', lines: [{ qty: 2 }, { qty: 1 }], note: null } },
      { data: { sku: 'a', lines: [{ qty: 1 }, { qty: 2 }], note: 0 } },
    ];
    for (const change of changes) expect([change, sameStoredEvent(event, { ...event, ...change })]).toEqual([change, false]);
    const { position: _position, ...pending } = event;
    expect(sameStoredEvent(event, pending)).toBe(false);
  });
});

describe('sameJsonValue', () => {
  it('tells arrays from objects, null from objects, and lengths and key counts apart', () => {
    expect(sameJsonValue([], {})).toBe(false);
    expect(sameJsonValue({ 0: 'a' }, ['a'])).toBe(false);
    expect(sameJsonValue(null, {})).toBe(false);
    expect(sameJsonValue([1], [1, 2])).toBe(false);
    expect(sameJsonValue({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJsonValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(sameJsonValue('1', 1)).toBe(false);
    expect(sameJsonValue([[[]]], [[[]]])).toBe(true);
  });
});
