import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import type { RejectedRecord } from '../../worker/db.ts';
import { stateOf } from '../../worker/event-states.ts';

/** sync.outcomeOf's rule for one event, from what was found of it (worker/event-states.ts). */

const event = (position?: number): StoredEvent =>
  ({
    id: 'e1',
    aggregateId: 'order-1',
    aggregateType: 'Order',
    seq: 3,
    type: 'ItemAdded',
    version: 1,
    data: {},
    meta: { clientId: 'c', clientSeq: 7, occurredAt: 0 },
    ...(position === undefined ? {} : { position }),
  }) as unknown as StoredEvent;

const rejected: RejectedRecord = { id: 'e1', event: event(), reason: 'too large', code: 'PAYLOAD_TOO_LARGE', rejectedAt: 1 };

describe('stateOf', () => {
  it('a stored event without a position is pending, with its seq now; with one, confirmed', () => {
    expect(stateOf('e1', event(), undefined, false)).toEqual({
      id: 'e1',
      status: 'pending',
      aggregateId: 'order-1',
      type: 'ItemAdded',
      seq: 3,
    });
    expect(stateOf('e1', event(42), undefined, false)).toEqual({
      id: 'e1',
      status: 'confirmed',
      aggregateId: 'order-1',
      type: 'ItemAdded',
      seq: 3,
      position: 42,
    });
  });

  it('a rejected record says rejected with its reason; a stored copy wins over it', () => {
    expect(stateOf('e1', undefined, rejected, false)).toEqual({
      id: 'e1',
      status: 'rejected',
      aggregateId: 'order-1',
      type: 'ItemAdded',
      reason: 'too large',
    });
    expect(stateOf('e1', event(5), rejected, false).status).toBe('confirmed');
  });

  it('an id only compaction knows is confirmed (it drops confirmed pages only); nothing found is unknown', () => {
    expect(stateOf('e1', undefined, undefined, true)).toEqual({ id: 'e1', status: 'confirmed' });
    expect(stateOf('e1', undefined, undefined, false)).toEqual({ id: 'e1', status: 'unknown' });
  });
});
