import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type PushRequest } from '../../src/core/protocol.ts';
import { SyncError } from '../../src/server/errors.ts';
import { judgePushes, seqKey, type JudgeInput, type LogState } from '../../src/server/push-judge.ts';
import type { PushResult } from '../../src/server/store/types.ts';

/**
 * The push rules (docs/protocol.md, "What the server does") as a pure
 * function, without a database: given a log's state, when a batch of pushes is
 * judged, then each is accepted, acknowledged or refused, and the rows to write
 * follow.
 */

type Event = PushRequest['events'][number];

const event = (clientId: string, clientSeq: number, aggregateId: string, seq: number, id = `${clientId}:${clientSeq}`): Event => ({
  id,
  aggregateId,
  aggregateType: 'Order',
  seq,
  type: 'ItemAdded',
  version: 1,
  data: { n: clientSeq },
  meta: { occurredAt: 1, clientId, clientSeq },
});

/** A push of `clientId` from `from`, one event per [aggregateId, seq]. */
function push(clientId: string, from: number, events: [string, number, string?][], epoch?: number): JudgeInput {
  const list = events.map(([aggregateId, seq, id], i) => event(clientId, from + i, aggregateId, seq, id));
  const request: PushRequest = { protocolVersion: PROTOCOL_VERSION, clientId, from, to: from + list.length - 1, events: list };
  if (epoch !== undefined) request.epoch = epoch;
  return { push: request, json: list.map((e) => JSON.stringify(e)) };
}

/** A log state; by default an empty log whose stored ids were read. */
function log(state: Partial<LogState> = {}): LogState {
  return {
    exists: true,
    head: 0,
    writeId: null,
    marks: new Map(),
    epochs: new Map(),
    heads: new Map(),
    bySeq: new Map(),
    byId: new Map(),
    idsRead: true,
    ...state,
  };
}

const accepted = (result: PushResult | SyncError): PushResult => {
  if (result instanceof SyncError) throw new Error(`expected acceptance, got ${result.code}: ${result.message}`);
  return result;
};
const refused = (result: PushResult | SyncError): SyncError => {
  if (!(result instanceof SyncError)) throw new Error('expected a refusal');
  return result;
};

describe('push judge: accepting', () => {
  it('given an empty log, when a client pushes 1..3, then the events take positions 1..3 and the client mark is 3', () => {
    const judged = judgePushes(log(), [
      push('a', 1, [
        ['o', 1],
        ['o', 2],
        ['p', 1],
      ]),
    ]);
    expect(accepted(judged.results[0]!)).toEqual({
      positions: [
        { id: 'a:1', clientSeq: 1, position: 1 },
        { id: 'a:2', clientSeq: 2, position: 2 },
        { id: 'a:3', clientSeq: 3, position: 3 },
      ],
      duplicates: 0,
      clientSeq: 3,
      head: 3,
      appended: 3,
    });
    expect(judged.rows.map((r) => [r.position, r.id, r.aggregateId, r.seq])).toEqual([
      [1, 'a:1', 'o', 1],
      [2, 'a:2', 'o', 2],
      [3, 'a:3', 'p', 1],
    ]);
    expect(judged.head).toBe(3);
    expect(judged.changedClients.get('a')).toEqual({ mark: 3, epoch: 0 });
    expect(judged.heads).toEqual(
      new Map([
        ['o', 2],
        ['p', 1],
      ]),
    );
  });

  it('given a batch of two pushes, when the second follows the first, then it is judged against what the first left', () => {
    const judged = judgePushes(log({ head: 10, heads: new Map([['o', 4]]) }), [push('a', 1, [['o', 5]]), push('b', 1, [['o', 6]])]);
    expect(accepted(judged.results[1]!).positions).toEqual([{ id: 'b:1', clientSeq: 1, position: 12 }]);
    expect(judged.head).toBe(12);
  });

  it('given a refused push in a batch, then it contributes nothing and the next one is judged without it', () => {
    const judged = judgePushes(log(), [push('a', 1, [['o', 2]]), push('b', 1, [['o', 1]])]);
    expect(refused(judged.results[0]!).code).toBe('SEQ_CONFLICT');
    expect(accepted(judged.results[1]!).positions[0]!.position).toBe(1);
  });
});

describe('push judge: duplicates (idempotency)', () => {
  const stored = log({
    head: 2,
    marks: new Map([['a', 2]]),
    heads: new Map([['o', 2]]),
    bySeq: new Map([
      [seqKey('a', 1), { id: 'a:1', position: 1 }],
      [seqKey('a', 2), { id: 'a:2', position: 2 }],
    ]),
  });

  it('given a range already applied, when it is pushed again, then it is acknowledged with the stored positions and nothing is written', () => {
    const judged = judgePushes(stored, [
      push('a', 1, [
        ['o', 1],
        ['o', 2],
      ]),
    ]);
    expect(accepted(judged.results[0]!)).toMatchObject({ duplicates: 2, appended: 0, clientSeq: 2, head: 2 });
    expect(judged.rows).toEqual([]);
    expect(judged.changedClients.size).toBe(0);
  });

  it('given a range that overlaps the mark, then only the unseen part is stored', () => {
    const judged = judgePushes(stored, [
      push('a', 2, [
        ['o', 2],
        ['o', 3],
      ]),
    ]);
    expect(accepted(judged.results[0]!)).toMatchObject({ duplicates: 1, appended: 1 });
    expect(judged.rows.map((r) => r.clientSeq)).toEqual([3]);
  });

  it('given an applied clientSeq re-sent with another id, then CLIENT_SEQ_MISMATCH names both ids', () => {
    const judged = judgePushes(stored, [push('a', 2, [['o', 2, 'other']])]);
    expect(refused(judged.results[0]!)).toMatchObject({
      code: 'CLIENT_SEQ_MISMATCH',
      details: { clientSeq: 2, id: 'other', storedId: 'a:2', position: 2 },
    });
  });
});

describe('push judge: refusals', () => {
  it('given a mark of 2, when a range starts at 4, then CLIENT_SEQ_GAP names 3 as expected', () => {
    const judged = judgePushes(log({ marks: new Map([['a', 2]]) }), [push('a', 4, [['o', 1]])]);
    expect(refused(judged.results[0]!)).toMatchObject({ code: 'CLIENT_SEQ_GAP', details: { expected: 3, from: 4, applied: 2 } });
  });

  it("given an aggregate at seq 3, when an event expects seq 3, then SEQ_CONFLICT names the server's head and the seq expected", () => {
    const judged = judgePushes(log({ heads: new Map([['o', 3]]) }), [
      push('a', 1, [
        ['p', 1],
        ['o', 3],
      ]),
    ]);
    expect(refused(judged.results[0]!)).toMatchObject({
      code: 'SEQ_CONFLICT',
      details: { aggregateId: 'o', seq: 3, head: 3, expected: 4, clientSeq: 2 },
    });
    expect(judged.rows).toEqual([]); // nothing of the push, not even the event before the conflict
  });

  it('given an id stored for another client, then DUPLICATE_EVENT_ID names where it is stored', () => {
    const judged = judgePushes(log({ byId: new Map([['x', { clientId: 'b', clientSeq: 7, position: 9 }]]) }), [
      push('a', 1, [['o', 1, 'x']]),
    ]);
    expect(refused(judged.results[0]!)).toMatchObject({
      code: 'DUPLICATE_EVENT_ID',
      details: { id: 'x', storedClientId: 'b', storedClientSeq: 7, position: 9 },
    });
  });

  it('given one id twice in a push, then DUPLICATE_EVENT_ID', () => {
    const judged = judgePushes(log(), [
      push('a', 1, [
        ['o', 1, 'x'],
        ['o', 2, 'x'],
      ]),
    ]);
    expect(refused(judged.results[0]!)).toMatchObject({ code: 'DUPLICATE_EVENT_ID', details: { id: 'x', storedClientSeq: 1 } });
  });

  it('given stored ids were not read, when a push is refused for a seq or an id in the batch, then the judge asks to judge again with ids', () => {
    const judged = judgePushes(log({ idsRead: false, heads: new Map([['o', 1]]) }), [push('a', 1, [['o', 1]])]);
    expect(refused(judged.results[0]!).code).toBe('SEQ_CONFLICT');
    expect(judged.needsIds).toBe(true);
  });
});

describe('push judge: rebase epochs', () => {
  it('given a client fenced at epoch 3, when a push of epoch 2 arrives (made before its rebase), then STALE_EPOCH and nothing is written', () => {
    const judged = judgePushes(log({ epochs: new Map([['a', 3]]) }), [push('a', 1, [['o', 1]], 2)]);
    expect(refused(judged.results[0]!)).toMatchObject({
      code: 'STALE_EPOCH',
      status: 409,
      details: { clientId: 'a', epoch: 2, current: 3 },
    });
    expect(judged.rows).toEqual([]);
  });

  it('given a client fenced at epoch 3, then a version-1 push (no epoch: 0) is stale too, even a pure retry', () => {
    const stored = log({
      epochs: new Map([['a', 3]]),
      marks: new Map([['a', 1]]),
      bySeq: new Map([[seqKey('a', 1), { id: 'a:1', position: 1 }]]),
    });
    expect(refused(judgePushes(stored, [push('a', 1, [['o', 1]])]).results[0]!).code).toBe('STALE_EPOCH');
  });

  it('given epoch 3, when a push of epoch 3 or higher stores events, then it is accepted and the write raises the stored epoch to it', () => {
    const judged = judgePushes(log({ epochs: new Map([['a', 3]]) }), [push('a', 1, [['o', 1]], 3), push('a', 2, [['o', 2]], 5)]);
    expect(judged.results.every((r) => !(r instanceof SyncError))).toBe(true);
    expect(judged.changedClients.get('a')).toEqual({ mark: 2, epoch: 5 });
    expect(judged.epochs.get('a')).toBe(5);
  });

  it('given a push of epoch 5 was accepted in a batch, then a later push of epoch 4 in the same batch is stale', () => {
    const judged = judgePushes(log(), [push('a', 1, [['o', 1]], 5), push('a', 2, [['o', 2]], 4)]);
    expect(refused(judged.results[1]!)).toMatchObject({ code: 'STALE_EPOCH', details: { epoch: 4, current: 5 } });
  });

  it('the epoch is checked before the range: a stale push is STALE_EPOCH even when it also leaves a gap', () => {
    const judged = judgePushes(log({ epochs: new Map([['a', 1]]) }), [push('a', 9, [['o', 1]], 0)]);
    expect(refused(judged.results[0]!).code).toBe('STALE_EPOCH');
  });
});
