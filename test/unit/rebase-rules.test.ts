import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { findConflicts, planStillHolds, renumberEvents, resequencePending, runFollows, type RebaseDecision } from '../../worker/rebase.ts';

/**
 * The rebase decisions (docs/protocol.md, "The rebase contract") without
 * storage: which aggregates conflict, how pending events are re-sequenced
 * after the server's, and how clientSeqs are renumbered.
 */

let n = 0;
/** A pending event of aggregate `aggregateId` at `seq`, with the next clientSeq. */
const pending = (aggregateId: string, seq: number, clientSeq = ++n): StoredEvent => ({
  id: `${aggregateId}@${clientSeq}`,
  aggregateId,
  aggregateType: 'Order',
  seq,
  type: 'ItemAdded',
  version: 1,
  data: { clientSeq },
  meta: { occurredAt: 0, clientId: 'me', clientSeq },
});

describe('finding conflicts', () => {
  it('given pending events that follow the confirmed head, then no conflict', () => {
    const events = [pending('o', 3, 10), pending('o', 4, 11)];
    expect(findConflicts(new Map([['o', events]]), new Map([['o', 2]]))).toEqual([]);
  });

  it("given another client's events took the seqs, then the aggregate conflicts, its pending events in clientSeq order", () => {
    const later = pending('o', 4, 21);
    const first = pending('o', 3, 20);
    const conflicts = findConflicts(
      new Map([
        ['o', [later, first]],
        ['p', [pending('p', 1, 22)]],
      ]),
      new Map([['o', 5]]),
    );
    expect(conflicts).toEqual([{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 5, pending: [first, later] }]);
  });

  it('given a hole below the pending events (one of them was rejected), then it conflicts too', () => {
    expect(findConflicts(new Map([['o', [pending('o', 4, 30)]]]), new Map([['o', 2]])).map((c) => c.aggregateId)).toEqual(['o']);
  });
});

describe('re-sequencing pending events after the server', () => {
  it('given the default rule, then conflicting events keep their order and ids, take the seqs after the head, and say "rebased"', () => {
    const a = pending('o', 2, 1);
    const other = pending('p', 1, 2);
    const b = pending('o', 3, 3);
    const result = resequencePending(
      [a, other, b],
      [{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 4, pending: [a, b] }],
      new Map(),
    );
    expect(result.keep.map((e) => [e.id, e.seq, e.meta.clientSeq])).toEqual([
      ['o@1', 5, 1],
      ['p@2', 1, 2],
      ['o@3', 6, 3],
    ]);
    expect(result.outcomes).toEqual([
      { id: 'o@1', aggregateId: 'o', type: 'ItemAdded', status: 'rebased', previousSeq: 2, seq: 5 },
      { id: 'o@3', aggregateId: 'o', type: 'ItemAdded', status: 'rebased', previousSeq: 3, seq: 6 },
    ]);
    expect(result.dropped).toEqual([]);
  });

  it('given a rule that drops one event, then it is rejected with its reason, and the rest close the gap in seqs and clientSeqs', () => {
    const a = pending('o', 2, 7);
    const b = pending('o', 3, 8);
    const c = pending('p', 1, 9);
    const decisions = new Map<string, RebaseDecision>([[a.id, { action: 'drop', reason: 'the order shipped meanwhile' }]]);
    const result = resequencePending(
      [a, b, c],
      [{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 2, pending: [a, b] }],
      decisions,
    );
    expect(result.dropped.map((d) => [d.event.id, d.reason])).toEqual([['o@7', 'the order shipped meanwhile']]);
    expect(result.outcomes[0]).toMatchObject({ id: 'o@7', status: 'rejected', reason: 'the order shipped meanwhile', previousSeq: 2 });
    expect(result.keep.map((e) => [e.id, e.seq, e.meta.clientSeq])).toEqual([
      ['o@8', 3, 7],
      ['p@9', 1, 8],
    ]);
    expect(result.firstClientSeq).toBe(7);
  });

  it('given a rule that transforms an event, then its data is replaced and its id kept', () => {
    const a = pending('o', 1, 40);
    const result = resequencePending(
      [a],
      [{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 1, pending: [a] }],
      new Map([[a.id, { action: 'transform', data: { qty: 0 } }]]),
    );
    expect(result.keep).toEqual([expect.objectContaining({ id: 'o@40', seq: 2, data: { qty: 0 } })]);
  });

  it('given a transform checked against a newer version of the type, then the event takes that version with its data', () => {
    const a = pending('o', 1, 45); // stored at version 1, before an upgrade
    const result = resequencePending(
      [a],
      [{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 1, pending: [a] }],
      new Map([[a.id, { action: 'transform', data: { qty: 3 }, version: 2 }]]),
    );
    expect(result.keep).toEqual([expect.objectContaining({ id: 'o@45', version: 2, data: { qty: 3 } })]);
  });

  it('given a drop with no reason, then the reason says it was the rebase rule', () => {
    const a = pending('o', 1, 50);
    const result = resequencePending(
      [a],
      [{ aggregateId: 'o', aggregateType: 'Order', confirmedHead: 1, pending: [a] }],
      new Map([[a.id, { action: 'drop' }]]),
    );
    expect(result.dropped[0]!.reason).toBe('dropped by the aggregate rebase rule');
  });
});

describe('renumbering after the server named the next clientSeq', () => {
  it('given the server expects 5, then the pending events are 5, 6, ... in their order', () => {
    const events = [pending('o', 1, 9), pending('o', 2, 10), pending('p', 1, 11)];
    expect(renumberEvents(events, 5, new Map()).keep.map((e) => e.meta.clientSeq)).toEqual([5, 6, 7]);
  });

  it('given an event refused for good, then it leaves the pending events and the others take its number', () => {
    const events = [pending('o', 1, 1), pending('o', 2, 2), pending('o', 3, 3)];
    const { keep, dropped } = renumberEvents(events, 1, new Map([['o@2', { code: 'BAD_REQUEST', reason: 'bad data' }]]));
    expect(dropped.map((e) => e.id)).toEqual(['o@2']);
    expect(keep.map((e) => [e.id, e.meta.clientSeq, e.seq])).toEqual([
      ['o@1', 1, 1],
      ['o@3', 2, 3], // its seq now leaves a hole: the next push conflicts and a rebase closes it
    ]);
  });
});

describe('whether a rebase plan still holds when it is applied', () => {
  const planned = (events: StoredEvent[]) => findConflicts(new Map([['o', events]]), new Map([['o', 9]]));

  it('given only other aggregates gained pending events (another tab kept appending), then it holds', () => {
    const o = [pending('o', 2, 40), pending('o', 3, 41)];
    const conflicts = planned(o);
    expect(conflicts).toHaveLength(1);
    expect(planStillHolds([o[0]!, pending('p', 1, 42), o[1]!, pending('q', 5, 43)], conflicts)).toBe(true);
  });

  it('given the conflicting aggregate gained a pending event the app did not decide on, then it does not', () => {
    const o = [pending('o', 2, 50)];
    expect(planStillHolds([...o, pending('o', 3, 51)], planned(o))).toBe(false);
  });

  it('given a planned event is gone or renumbered to another seq, then it does not', () => {
    const o = [pending('o', 2, 60), pending('o', 3, 61)];
    expect(planStillHolds([o[0]!], planned(o))).toBe(false);
    expect(planStillHolds([o[0]!, { ...o[1]!, seq: 4 }], planned(o))).toBe(false);
  });
});

describe('runFollows', () => {
  it("is findConflicts' rule on (clientSeq, seq) pairs: in clientSeq order, seqs continue the confirmed head", () => {
    expect(runFollows([1, 4, 2, 5, 3, 6], 3)).toBe(true);
    // Stored out of clientSeq order: sorted first.
    expect(runFollows([3, 6, 1, 4, 2, 5], 3)).toBe(true);
    expect(runFollows([1, 4, 2, 5], 4)).toBe(false); // collides with the confirmed seq 4
    expect(runFollows([1, 5, 2, 6], 3)).toBe(false); // a gap after the head
    expect(runFollows([1, 4, 2, 6], 3)).toBe(false); // a gap inside
    expect(runFollows([], 7)).toBe(true);
  });
});
