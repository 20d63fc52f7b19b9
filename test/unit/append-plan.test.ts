import { describe, expect, it } from 'vitest';
import { DuplicateInBatchError, EventIdConflictError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import type { EncodedEvent } from '../../src/core/registry.ts';
import { planGroup } from '../../worker/append-plan.ts';
import { newMeta } from '../../worker/meta.ts';
import type { AppendOutcome, AppendRequest } from '../../worker/types.ts';

// The append decisions without storage: given heads and stored events, when a group is planned, then...

const encoded = (id: string, data: unknown, type = 'ItemAdded', generated = false): EncodedEvent => ({
  id,
  type,
  occurredAt: 1,
  body: JSON.stringify([type, 1, data, 1]).slice(1, -1),
  tail: '',
  ...(generated ? { generated } : {}),
});
const request = (aggregateId: string, events: EncodedEvent[]): AppendRequest => ({
  aggregateId,
  aggregateType: 'Order',
  expectedVersion: 'any',
  events,
});
const stored = (id: string, aggregateId: string, data: unknown): StoredEvent => ({
  id,
  aggregateId,
  aggregateType: 'Order',
  seq: 1,
  type: 'ItemAdded',
  version: 1,
  data,
  meta: { occurredAt: 0, clientId: 'c', clientSeq: 1 },
});
const plan = (requests: AppendRequest[], storedEvents: StoredEvent[] = [], atomic = false) =>
  planGroup(requests, new Map([['a', storedEvents.length]]), new Map(storedEvents.map((e) => [e.id, e])), newMeta('c'), atomic);

describe('append plan: repeated ids', () => {
  it('given an id stored in the same stream with the same content, then the request is a no-op reporting the stored event', () => {
    const { result, entries } = plan([request('a', [encoded('e1', { sku: 'x' })])], [stored('e1', 'a', { sku: 'x' })]);
    expect(entries).toHaveLength(0);
    expect((result.outcomes[0] as AppendOutcome).duplicates).toEqual(['e1']);
  });

  it('given an id stored in another stream, then the request is refused with EventIdConflictError (other-stream)', () => {
    const { result, entries } = plan([request('b', [encoded('e1', { sku: 'x' })])], [stored('e1', 'a', { sku: 'x' })]);
    expect(entries).toHaveLength(0);
    expect(result.outcomes[0]).toBeInstanceOf(EventIdConflictError);
    expect(result.outcomes[0]).toMatchObject({ reason: 'other-stream', storedAggregateId: 'a', aggregateId: 'b' });
  });

  it('given an id stored with other data, then it is refused (different-content); in an atomic group the whole group is', () => {
    const { result } = plan([request('a', [encoded('e1', { sku: 'y' })])], [stored('e1', 'a', { sku: 'x' })]);
    expect(result.outcomes[0]).toMatchObject({ code: 'EVENT_ID_CONFLICT', reason: 'different-content' });
    expect(() =>
      plan([request('a', [encoded('new', {})]), request('a', [encoded('e1', { sku: 'y' })])], [stored('e1', 'a', { sku: 'x' })], true),
    ).toThrow(EventIdConflictError);
  });

  it('given one id in two requests of one atomic group, then DuplicateInBatchError', () => {
    expect(() => plan([request('a', [encoded('twice', {})]), request('b', [encoded('twice', {})])], [], true)).toThrow(
      DuplicateInBatchError,
    );
  });

  it('given one id in two separate calls committed together, then it is written once: a retry is acknowledged, a conflict refused', () => {
    const same = plan([request('a', [encoded('r', { n: 1 })]), request('a', [encoded('r', { n: 1 })])]);
    expect(same.entries).toHaveLength(1);
    expect((same.result.outcomes[1] as AppendOutcome).duplicates).toEqual(['r']);
    const other = plan([request('a', [encoded('r', { n: 1 })]), request('b', [encoded('r', { n: 1 })])]);
    expect(other.entries).toHaveLength(1);
    expect(other.result.outcomes[1]).toBeInstanceOf(EventIdConflictError);
  });

  it('given only fresh ids, then seqs continue the head and clientSeqs the counter', () => {
    const { entries, result } = plan([request('a', [encoded('g1', {}, 'ItemAdded', true), encoded('g2', {}, 'ItemAdded', true)])], []);
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(result.moved).toEqual([['a', 2]]);
  });
});
