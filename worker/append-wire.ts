import type { AppendOutcome, AppendRequest } from './types.ts';

/**
 * appendBatch's requests and outcomes as they cross the worker boundary: in
 * columns, one per field, the events of all requests flattened. A structured
 * clone writes every object's property names and allocates every object
 * again on the other side, and every string and number in an array is an
 * item of its own; columns of a few strings and typed arrays cost a fraction
 * of that (1,000 events: objects 1.7 ms, arrays of strings and numbers 0.6 ms,
 * in Chromium). The ids, bodies and tails of the events and the aggregate
 * ids travel as one string each, joined by NUL (SEP): none holds a NUL (a
 * body and a tail are JSON text, and JSON.stringify escapes U+0000; an id and
 * an aggregate id pass findIdProblem, which refuses it). Type names, which
 * repeat, travel once each, in `names`, and by number in the columns.
 */
export interface AppendWire {
  /** The requests' aggregate ids, joined by SEP. */
  aggregateIds: string;
  /** Per request, its aggregate type's place in `names`. */
  aggregateTypes: Uint32Array;
  /** Per request, its expected version (ANY and NO_STREAM stand for the two words). */
  expected: Float64Array;
  /** Events per request, in order. */
  counts: Uint32Array;
  /** The events' ids, joined by SEP. */
  ids: string;
  /** Per event, its type's place in `names`. */
  types: Uint32Array;
  /** The event and aggregate type names the columns refer to. */
  names: string[];
  occurredAt: Float64Array;
  /** The events' bodies, joined by SEP. */
  bodies: string;
  /** The events' tails, joined by SEP. */
  tails: string;
  /** Per event, 1 when its id was made by Chronicle. */
  generated: Uint8Array;
}

/** What separates the joined strings' parts. */
const SEP = '\u0000';
const ANY = -1;
const NO_STREAM = -2;

/** The buffers of a wire, which a postMessage may transfer rather than copy. */
export function wireBuffers(wire: AppendWire): ArrayBuffer[] {
  return [wire.aggregateTypes, wire.expected, wire.counts, wire.types, wire.occurredAt, wire.generated].map((a) => a.buffer as ArrayBuffer);
}

export function requestsToWire(requests: readonly AppendRequest[]): AppendWire {
  let total = 0;
  for (const request of requests) total += request.events.length;
  const aggregateIds = new Array<string>(requests.length);
  const ids = new Array<string>(total);
  const bodies = new Array<string>(total);
  const tails = new Array<string>(total);
  const names: string[] = [];
  const numbers = new Map<string, number>();
  const nameNumber = (name: string): number => {
    let n = numbers.get(name);
    if (n === undefined) {
      n = names.push(name) - 1;
      numbers.set(name, n);
    }
    return n;
  };
  const wire: AppendWire = {
    aggregateIds: '',
    aggregateTypes: new Uint32Array(requests.length),
    expected: new Float64Array(requests.length),
    counts: new Uint32Array(requests.length),
    ids: '',
    types: new Uint32Array(total),
    names,
    occurredAt: new Float64Array(total),
    bodies: '',
    tails: '',
    generated: new Uint8Array(total),
  };
  let at = 0;
  requests.forEach((request, r) => {
    aggregateIds[r] = request.aggregateId;
    wire.aggregateTypes[r] = nameNumber(request.aggregateType);
    const expected = request.expectedVersion;
    wire.expected[r] = expected === 'any' ? ANY : expected === 'no-stream' ? NO_STREAM : expected;
    wire.counts[r] = request.events.length;
    for (const event of request.events) {
      ids[at] = event.id;
      wire.types[at] = nameNumber(event.type);
      wire.occurredAt[at] = event.occurredAt;
      bodies[at] = event.body;
      tails[at] = event.tail;
      if (event.generated) wire.generated[at] = 1;
      at++;
    }
  });
  wire.aggregateIds = aggregateIds.join(SEP);
  wire.ids = ids.join(SEP);
  wire.bodies = bodies.join(SEP);
  wire.tails = tails.join(SEP);
  return wire;
}

export function requestsFromWire(wire: AppendWire): AppendRequest[] {
  const requests = new Array<AppendRequest>(wire.counts.length);
  if (requests.length === 0) return requests;
  const aggregateIds = wire.aggregateIds.split(SEP);
  const ids = wire.ids.split(SEP);
  const bodies = wire.bodies.split(SEP);
  const tails = wire.tails.split(SEP);
  const names = wire.names;
  let at = 0;
  for (let r = 0; r < requests.length; r++) {
    const count = wire.counts[r]!;
    const events = new Array<AppendRequest['events'][number]>(count);
    for (let i = 0; i < count; i++, at++) {
      const event: AppendRequest['events'][number] = {
        id: ids[at]!,
        type: names[wire.types[at]!]!,
        occurredAt: wire.occurredAt[at]!,
        body: bodies[at]!,
        tail: tails[at]!,
      };
      if (wire.generated[at] === 1) event.generated = true;
      events[i] = event;
    }
    const expected = wire.expected[r]!;
    requests[r] = {
      aggregateId: aggregateIds[r]!,
      aggregateType: names[wire.aggregateTypes[r]!]!,
      expectedVersion: expected === ANY ? 'any' : expected === NO_STREAM ? 'no-stream' : expected,
      events,
    };
  }
  return requests;
}

/** appendBatch's outcomes in columns; what only calls that repeated ids have (duplicates, stored JSON) is listed apart. */
export interface OutcomesWire {
  clientId: string;
  nextExpectedVersion: Float64Array;
  createdNewStream: Uint8Array;
  firstSeq: Float64Array;
  firstClientSeq: Float64Array;
  /** [request index, duplicates, stored JSON of the request's events] */
  repeats: [number, string[], string | undefined][];
}

export function outcomesToWire(outcomes: readonly AppendOutcome[]): OutcomesWire {
  const wire: OutcomesWire = {
    clientId: outcomes[0]?.clientId ?? '',
    nextExpectedVersion: new Float64Array(outcomes.length),
    createdNewStream: new Uint8Array(outcomes.length),
    firstSeq: new Float64Array(outcomes.length),
    firstClientSeq: new Float64Array(outcomes.length),
    repeats: [],
  };
  outcomes.forEach((outcome, i) => {
    wire.nextExpectedVersion[i] = outcome.nextExpectedVersion;
    if (outcome.createdNewStream) wire.createdNewStream[i] = 1;
    wire.firstSeq[i] = outcome.firstSeq;
    wire.firstClientSeq[i] = outcome.firstClientSeq;
    if (outcome.duplicates.length > 0 || outcome.eventsJson !== undefined) wire.repeats.push([i, outcome.duplicates, outcome.eventsJson]);
  });
  return wire;
}

/** The outcomes again, given the requests they answer (for the aggregate ids). */
export function outcomesFromWire(wire: OutcomesWire, requests: readonly AppendRequest[]): AppendOutcome[] {
  const outcomes = new Array<AppendOutcome>(wire.nextExpectedVersion.length);
  for (let i = 0; i < outcomes.length; i++) {
    outcomes[i] = {
      aggregateId: requests[i]!.aggregateId,
      nextExpectedVersion: wire.nextExpectedVersion[i]!,
      createdNewStream: wire.createdNewStream[i] === 1,
      duplicates: [],
      firstSeq: wire.firstSeq[i]!,
      firstClientSeq: wire.firstClientSeq[i]!,
      clientId: wire.clientId,
    };
  }
  for (const [i, duplicates, eventsJson] of wire.repeats) {
    const outcome = outcomes[i]!;
    outcome.duplicates = duplicates;
    if (eventsJson !== undefined) outcome.eventsJson = eventsJson;
  }
  return outcomes;
}
