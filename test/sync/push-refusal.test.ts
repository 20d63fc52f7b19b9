import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { decideRefusal, type Refusal } from '../../worker/sync/push-refusal.ts';

/** What the sync does with each refusal of a push (worker/sync/push-refusal.ts), without a server. */

const events: StoredEvent[] = [1, 2, 3, 4].map((n) => ({
  id: `e${n}`,
  aggregateId: 'o',
  aggregateType: 'Order',
  seq: n,
  type: 'ItemAdded',
  version: 1,
  data: {},
  meta: { occurredAt: 0, clientId: 'c', clientSeq: n },
}));

const refusal = (status: number, code: string, details: Record<string, unknown> = {}): Refusal => ({
  status,
  code,
  message: `${code} reason`,
  details,
  errorBody: true,
});
const rejects = (...ids: string[]) => ({
  kind: 'reject',
  events: new Map(ids.map((id) => [id, expect.objectContaining({ reason: expect.any(String) })])),
});

describe('push refusals', () => {
  it('given a schema failure naming events.2, then that event is rejected with the code and the reason', () => {
    const action = decideRefusal(
      refusal(400, 'BAD_REQUEST', { field: 'events.2.data.note', issues: [{ path: 'events.2.data.note', message: 'x' }] }),
      events,
    );
    expect(action).toEqual({ kind: 'reject', events: new Map([['e3', { code: 'BAD_REQUEST', reason: 'BAD_REQUEST reason' }]]) });
  });

  it('given INVALID_EVENT listing several events in details.events, then they are all rejected at once, each with its own reason', () => {
    const listed = refusal(422, 'INVALID_EVENT', {
      index: 0,
      id: 'e1',
      events: [
        { index: 0, id: 'e1', field: 'events.0.data.qty', reason: 'too many' },
        { index: 2, id: 'e3', field: 'events.2.data.sku', reason: 'empty' },
        // Entries that match no event of this push are ignored: another index, or an id that is not there.
        { index: 3, id: 'not-e4', reason: 'x' },
        { index: 9, reason: 'x' },
        'nonsense',
      ],
    });
    expect(decideRefusal(listed, events)).toEqual({
      kind: 'reject',
      events: new Map([
        ['e1', { code: 'INVALID_EVENT', reason: 'data.qty: too many' }],
        ['e3', { code: 'INVALID_EVENT', reason: 'data.sku: empty' }],
      ]),
    });
    // One listed event: as a refusal naming it (the message is the reason).
    expect(decideRefusal(refusal(422, 'INVALID_EVENT', { index: 1, events: [{ index: 1, id: 'e2' }] }), events)).toEqual(rejects('e2'));
  });

  it('given a 400 that names no field, then the push is halved; alone, the event is rejected', () => {
    expect(decideRefusal(refusal(400, 'BAD_REQUEST'), events)).toEqual({ kind: 'split', size: 2 });
    expect(decideRefusal(refusal(400, 'BAD_REQUEST'), events.slice(0, 1))).toEqual(rejects('e1'));
  });

  it("given a 400 about the push's numbering (the count, an event's clientSeq) of a push with a hole, then the events are renumbered from the first, none rejected", () => {
    // clientSeqs 1, 2, 4: a hole, as a restored backup's queue can have.
    const holed = [events[0]!, events[1]!, { ...events[3]!, meta: { ...events[3]!.meta, clientSeq: 4 } }];
    const clientSeqIssue = { issues: [{ path: 'events.2.meta.clientSeq', message: 'must be 3' }] };
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', clientSeqIssue), holed)).toEqual({ kind: 'renumber', from: 1 });
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { issues: [{ path: 'events' }] }), holed)).toEqual({ kind: 'renumber', from: 1 });
    // Numbered without a hole, the same refusal cannot be cured by renumbering: the event it names is rejected,
    // and one that names no event is narrowed down, as before, instead of renumbering in a loop.
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { field: 'events.1.meta.clientSeq' }), events)).toEqual(rejects('e2'));
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { issues: [{ path: 'events' }] }), events)).toEqual({ kind: 'split', size: 2 });
    // An event's own fields are its fault, hole or not.
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { field: 'events.2.meta.clientId' }), holed)).toEqual(rejects(holed[2]!.id));
  });

  it('given a 400 about the request itself (clientId, from...), then nothing is rejected: the round fails and retries', () => {
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { field: 'clientId' }), events)).toEqual({ kind: 'retry' });
  });

  it('given a 400 about the HTTP request (no Host, HTTP the server cannot parse, an Upgrade header), then nothing is rejected or split', () => {
    // What the server says when something in between mangles the request: each event alone would meet it too.
    for (const reason of ['missing-host', 'HPE_INVALID_TRANSFER_ENCODING', 'upgrade-not-supported']) {
      expect(decideRefusal(refusal(400, 'BAD_REQUEST', { reason }), events)).toEqual({ kind: 'retry' });
      expect(decideRefusal(refusal(400, 'BAD_REQUEST', { reason }), events.slice(0, 1))).toEqual({ kind: 'retry' });
    }
    // A reason beside a named event or field is about that event: still rejected.
    expect(decideRefusal(refusal(400, 'BAD_REQUEST', { reason: 'too-deep', field: 'events.1.data' }), events)).toEqual(rejects('e2'));
  });

  it('given an event too large, then it is rejected; too many events or bytes, then fewer per push', () => {
    expect(decideRefusal(refusal(413, 'PAYLOAD_TOO_LARGE', { what: 'event', index: 1, id: 'e2' }), events)).toEqual(rejects('e2'));
    expect(decideRefusal(refusal(413, 'PAYLOAD_TOO_LARGE', { what: 'request' }), events)).toEqual({ kind: 'split', size: 2 });
    // The server's own limit of events per push: exactly that many, and it holds for later rounds.
    expect(decideRefusal(refusal(413, 'PAYLOAD_TOO_LARGE', { what: 'events', count: 4, limit: 3 }), events)).toEqual({
      kind: 'split',
      size: 3,
      serverLimit: true,
    });
    // A limit that says nothing usable: halved.
    expect(decideRefusal(refusal(413, 'PAYLOAD_TOO_LARGE', { what: 'events', count: 4, limit: 'lots' }), events)).toEqual({
      kind: 'split',
      size: 2,
    });
  });

  it('given an id stored for another client, then that event is rejected', () => {
    expect(decideRefusal(refusal(409, 'DUPLICATE_EVENT_ID', { id: 'e4' }), events)).toEqual(rejects('e4'));
  });

  it('given an unknown 4xx code naming an event, then by its status class it is permanent: the event is rejected', () => {
    expect(decideRefusal(refusal(422, 'SOMETHING_NEW', { index: 0 }), events)).toEqual(rejects('e1'));
  });

  it("given a 4xx without the protocol's error body (a proxy's page, a body cut off), then nothing is rejected or split", () => {
    for (const status of [400, 401, 403, 404, 405, 408, 409, 413, 422, 429]) {
      const bodyless: Refusal = { status, code: `HTTP_${status}`, message: 'Forbidden', details: {}, errorBody: false };
      expect(decideRefusal(bodyless, events), String(status)).toEqual({ kind: 'retry' });
      expect(decideRefusal(bodyless, events.slice(0, 1)), `${status} alone`).toEqual({ kind: 'retry' });
    }
  });

  it('given refusals about the caller, the rate, the protocol or the server, then nothing is rejected', () => {
    for (const [status, code] of [
      [401, 'UNAUTHORIZED'],
      [403, 'FORBIDDEN'],
      [404, 'NOT_FOUND'],
      [408, 'REQUEST_TIMEOUT'],
      [415, 'UNSUPPORTED_MEDIA_TYPE'],
      [429, 'RATE_LIMITED'],
      [400, 'UNSUPPORTED_PROTOCOL'],
      [500, 'INTERNAL'],
      [503, 'UNAVAILABLE'],
      [502, 'HTTP_502'],
    ] as const) {
      expect(decideRefusal(refusal(status, code, { index: 0, field: 'events.0' }), events), code).toEqual({ kind: 'retry' });
    }
  });

  it('given the rebase refusals, then rebase, renumber from the number expected, renumber after the mark, or raise the epoch', () => {
    expect(decideRefusal(refusal(409, 'SEQ_CONFLICT', { aggregateId: 'o' }), events)).toEqual({ kind: 'rebase' });
    expect(decideRefusal(refusal(409, 'CLIENT_SEQ_GAP', { expected: 7 }), events)).toEqual({ kind: 'renumber', from: 7 });
    expect(decideRefusal(refusal(409, 'CLIENT_SEQ_MISMATCH', {}), events)).toEqual({ kind: 'renumber-after-mark' });
    expect(decideRefusal(refusal(409, 'STALE_EPOCH', { epoch: 2, current: 5 }), events)).toEqual({ kind: 'epoch', current: 5 });
  });

  it('given numbers in a refusal that are no safe positive integers (2.5, 1e300, 1e308), then nothing is renumbered or fenced: retried', () => {
    // They would be stored as the pending events' clientSeqs or the client's epoch, and every later push refused.
    for (const expected of [2.5, 1e300, 0, -1, '2']) {
      expect(decideRefusal(refusal(409, 'CLIENT_SEQ_GAP', { expected }), events)).toEqual({ kind: 'retry' });
    }
    for (const current of [1e308, 1.5, -1, '3']) {
      expect(decideRefusal(refusal(409, 'STALE_EPOCH', { current }), events)).toEqual({ kind: 'retry' });
    }
  });
});
