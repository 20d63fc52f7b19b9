import { describe, expect, it } from 'vitest';
import { outcomesFromWire, outcomesToWire, requestsFromWire, requestsToWire, wireBuffers } from '../../worker/append-wire.ts';
import type { AppendOutcome, AppendRequest } from '../../worker/types.ts';

// appendBatch's requests and outcomes in columns (worker/append-wire.ts): given them, when they cross and come back, then nothing changed.

const requests: AppendRequest[] = [
  {
    aggregateId: 'o1',
    aggregateType: 'Order',
    expectedVersion: 'no-stream',
    events: [
      { id: 'e1', type: 'OrderPlaced', occurredAt: 5, body: '"OrderPlaced",1,{"customerId":"c"},5', tail: '', generated: true },
      { id: 'given', type: 'ItemAdded', occurredAt: 6, body: '"ItemAdded",2,{"sku":"a","qty":1,"price":2},6', tail: ',"corr",null' },
    ],
  },
  { aggregateId: 'o2', aggregateType: 'Order', expectedVersion: 7, events: [] },
  {
    aggregateId: 'o3',
    aggregateType: 'Order',
    expectedVersion: 'any',
    events: [{ id: 'e3', type: 'ItemRemoved', occurredAt: 8, body: '"ItemRemoved",1,{"sku":"a"},8', tail: '', generated: true }],
  },
];

describe('append wire', () => {
  it('given requests, then they come back as they were', () => {
    expect(requestsFromWire(structuredClone(requestsToWire(requests)))).toEqual(requests);
  });

  it('given ids, bodies and tails with any storable characters, or no events at all, then they come back as they were', () => {
    const odd: AppendRequest[] = [
      {
        aggregateId: 'o\n1',
        aggregateType: 'Order',
        expectedVersion: 'any',
        events: [
          { id: 'line\nbreak, comma', type: 'Noted', occurredAt: 1, body: '"Noted",1,{"t":"a\\u0000b\\n"},1', tail: ',"c\\u0000",null' },
          { id: '', type: 'Noted', occurredAt: 2, body: '"Noted",1,"\u20ac\ud83d\ude00",2', tail: '' },
        ],
      },
    ];
    expect(requestsFromWire(structuredClone(requestsToWire(odd)))).toEqual(odd);
    const none: AppendRequest[] = [{ aggregateId: 'o', aggregateType: 'Order', expectedVersion: 0, events: [] }];
    expect(requestsFromWire(structuredClone(requestsToWire(none)))).toEqual(none);
    expect(requestsFromWire(structuredClone(requestsToWire([])))).toEqual([]);
  });

  it('given outcomes, some with repeated ids, then they come back as they were', () => {
    const outcomes: AppendOutcome[] = [
      { aggregateId: 'o1', nextExpectedVersion: 2, createdNewStream: true, duplicates: [], firstSeq: 1, firstClientSeq: 4, clientId: 'me' },
      {
        aggregateId: 'o2',
        nextExpectedVersion: 7,
        createdNewStream: false,
        duplicates: ['x'],
        firstSeq: 0,
        firstClientSeq: 0,
        clientId: 'me',
        eventsJson: '[]',
      },
      {
        aggregateId: 'o3',
        nextExpectedVersion: 3,
        createdNewStream: false,
        duplicates: [],
        firstSeq: 3,
        firstClientSeq: 6,
        clientId: 'me',
      },
    ];
    const wire = structuredClone(outcomesToWire(outcomes));
    expect(wire.repeats).toHaveLength(1);
    expect(outcomesFromWire(wire, requests)).toEqual(outcomes);
  });

  it('given requests whose typed columns are transferred, then they arrive whole and the sender keeps nothing of them', () => {
    const wire = requestsToWire(requests);
    const { port1, port2 } = new MessageChannel();
    const arrived = new Promise<unknown>((resolve) => (port2.onmessage = (message) => resolve(message.data)));
    port1.postMessage(wire, wireBuffers(wire));
    expect(wire.occurredAt.length).toBe(0);
    return arrived.then((data) => {
      expect(requestsFromWire(data as typeof wire)).toEqual(requests);
      port1.close();
      port2.close();
    });
  });
});
