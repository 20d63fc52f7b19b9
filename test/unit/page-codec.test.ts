import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { decodePageJson, rowJson } from '../../worker/page-codec.ts';
import { spliceEventJson } from '../../worker/page-builder.ts';
import { Order } from '../fixtures/model.ts';

const event: StoredEvent = {
  id: 'e1',
  aggregateId: 'o "1"',
  aggregateType: 'Order',
  seq: 3,
  type: 'ItemAdded',
  version: 2,
  data: { sku: 'tea, green', qty: 2, price: 4.5, tags: ['a', null] },
  meta: { occurredAt: 1_700_000_000_123, clientId: 'c1', clientSeq: 9 },
};

describe('page rows', () => {
  it('round-trips pending and confirmed events, with and without correlation and causation', () => {
    const variants: StoredEvent[] = [
      event,
      { ...event, position: 42 },
      { ...event, meta: { ...event.meta, correlationId: 'corr' } },
      { ...event, meta: { ...event.meta, causationId: 'cause' } },
    ];
    const json = `[${variants.map(rowJson).join(',')}]`;
    expect(decodePageJson(json)).toEqual(variants);
    expect(json.length).toBeLessThan(JSON.stringify(variants).length * 0.8);
  });

  it('still reads pages written as event objects, even mixed with rows', () => {
    const json = `[${JSON.stringify(event)},${rowJson({ ...event, id: 'e2' })}]`;
    expect(decodePageJson(json).map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(decodePageJson(json)[0]).toEqual(event);
  });

  it('splices a client-encoded event into the same row the codec reads', () => {
    const registry = createRegistry({ events: [], aggregates: [Order] });
    const [encoded] = registry.encode(
      [{ type: 'ItemAdded', data: { sku: 'x', qty: 1, price: 2 }, id: 'e9', meta: { occurredAt: 5, causationId: 'why' } }],
      5,
      { aggregateId: 'o1', aggregateType: 'Order' },
    );
    const json = spliceEventJson(encoded!, JSON.stringify('o1'), JSON.stringify('Order'), 7, JSON.stringify('me'), 11);
    expect(decodePageJson(`[${json}]`)).toEqual([
      {
        id: 'e9',
        aggregateId: 'o1',
        aggregateType: 'Order',
        seq: 7,
        type: 'ItemAdded',
        version: 2,
        data: { sku: 'x', qty: 1, price: 2 },
        meta: { occurredAt: 5, clientId: 'me', clientSeq: 11, causationId: 'why' },
      },
    ]);
  });
});
