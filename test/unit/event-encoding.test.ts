// Registry.encode: what append checks and stores of each event. Every refusal is a ChronicleError naming
// the field (README, Errors), the data stored is the data checked, and an event it accepts is one the sync
// server accepts for its size.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildRequest } from '../../src/client/append.ts';
import { ChronicleError, ConfigError, EventTooLargeError, UnserializableDataError, ValidationError } from '../../src/core/errors.ts';
import { defineEvent } from '../../src/core/event.ts';
import { uuidv7 } from '../../src/core/ids.ts';
import { utf8Length } from '../../src/core/json-data.ts';
import { DEFAULT_LIMITS } from '../../src/core/protocol.ts';
import { createRegistry, DEFAULT_MAX_EVENT_BYTES, type EventStream } from '../../src/core/registry.ts';
import { MAX_ID_LENGTH } from '../../src/core/text-rules.ts';
import { SyncError } from '../../src/server/errors.ts';
import { validatePush } from '../../src/server/http/push-decode.ts';

const Anything = defineEvent({ type: 'Anything', schema: z.object({ v: z.any() }) });
const Text = defineEvent({ type: 'Text', schema: z.object({ s: z.string() }) });
const Throwing = defineEvent({
  type: 'Throwing',
  schema: z.object({
    a: z.string().transform((): string => {
      throw new Error('transform boom');
    }),
  }),
});
const Async = defineEvent({ type: 'Async', schema: z.object({ a: z.string().refine(async () => true) }) });
const registry = createRegistry({ events: [Anything, Text, Throwing, Async] });

/** What encoding `data` as an event of `type` throws. */
function refusal(type: string, data: unknown): unknown {
  try {
    registry.encode([
      { type: 'Text', data: { s: 'first' } },
      { type, data },
    ]);
  } catch (error) {
    return error;
  }
  throw new Error('expected the event to be refused');
}

/** The data an encoded event stores. */
const storedData = (body: string): unknown => (JSON.parse(`[${body}]`) as unknown[])[2];

/** An object whose `key` runs `get` on every read. */
const withGetter = (key: string, get: () => unknown): object => Object.defineProperty({}, key, { enumerable: true, get });

describe('append refusals are ChronicleErrors naming the field', () => {
  it('given a schema transform that throws, then a ValidationError on data at its index', () => {
    const error = refusal('Throwing', { a: 'x' });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'VALIDATION', path: 'data', index: 1 });
    expect((error as ValidationError).reason).toMatch(/transform boom/);
  });

  it('given a schema with an async refinement, then a ValidationError, not zod’s $ZodAsyncError', () => {
    const error = refusal('Async', { a: 'x' });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'VALIDATION', path: 'data', index: 1 });
    expect((error as ValidationError).reason).toMatch(/synchronous/);
  });

  it('given a getter in the data that throws, then a ValidationError whose path leads to it', () => {
    const boom = () => {
      throw new Error('getter boom');
    };
    const error = refusal('Anything', { v: { ok: 1, x: withGetter('deep', boom) } });
    expect(error).toBeInstanceOf(ChronicleError);
    expect(error).toMatchObject({ code: 'VALIDATION', path: 'data.v.x.deep', index: 1 });
    expect((error as ValidationError).reason).toBe('reading it threw: Error: getter boom');
    expect(refusal('Anything', { v: [1, withGetter('x', boom)] })).toMatchObject({ path: 'data.v[1].x' });
  });

  it('given a Proxy whose traps throw, then a ValidationError at the proxied value', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(refusal('Anything', { v: { p: hostile } })).toMatchObject({ code: 'VALIDATION', path: 'data.v.p' });
  });

  it('given data that is not JSON, then still an UnserializableDataError with its path', () => {
    const error = refusal('Anything', { v: [1, { when: new Date(0) }] });
    expect(error).toBeInstanceOf(UnserializableDataError);
    expect(error).toMatchObject({ path: 'data.v[1].when', index: 1 });
  });
});

describe('the data checked is the data stored', () => {
  it('given a getter that returns 1 and then NaN, then 1 is stored (read once), never null', () => {
    let reads = 0;
    const v = withGetter('n', () => (++reads === 1 ? 1 : NaN));
    const [encoded] = registry.encode([{ type: 'Anything', data: { v } }]);
    expect(storedData(encoded!.body)).toEqual({ v: { n: 1 } });
    expect(reads).toBe(1);
  });

  it('given a Proxy, then each of its values is read once', () => {
    const reads: string[] = [];
    const v = new Proxy({ a: 1, b: [2, 3] } as Record<string, unknown>, {
      get(target, key, receiver) {
        if (typeof key === 'string') reads.push(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const [encoded] = registry.encode([{ type: 'Anything', data: { v } }]);
    expect(storedData(encoded!.body)).toEqual({ v: { a: 1, b: [2, 3] } });
    expect(reads).toEqual(['a', 'b']);
  });

  it('given ordinary data, then the body is what JSON.stringify writes of [type, version, data, occurredAt]', () => {
    const data = { v: { s: 'quote " slash \\ tab \t é 😀', n: [0, -0, 1.5, 1e21, 5e-324], t: true, f: false, z: null, nested: [{}, []] } };
    const [encoded] = registry.encode([{ type: 'Anything', data, meta: { occurredAt: 1_732_000_000_000 } }]);
    expect(encoded!.body).toBe(JSON.stringify(['Anything', 1, data, 1_732_000_000_000]).slice(1, -1));
  });
});

describe('encode’s arguments', () => {
  it('given the two-argument form encode(inputs, now), then now is the occurredAt of events that give none, as before the stream argument', () => {
    const [plain] = registry.encode([{ type: 'Text', data: { s: 'x' } }], 1_234);
    const [given] = registry.encode([{ type: 'Text', data: { s: 'x' }, meta: { occurredAt: 99 } }], 1_234, {
      aggregateId: 'o1',
      aggregateType: 'Order',
    });
    expect(plain!.occurredAt).toBe(1_234);
    expect(given!.occurredAt).toBe(99);
  });
});

describe('maxEventBytes counts the event as the sync server does', () => {
  type Links = { correlationId?: string; causationId?: string };
  const OCCURRED_AT = 1_732_000_000_000;
  const longest = '\u0001'.repeat(MAX_ID_LENGTH); // JSON writes each as \u0001: 6 bytes

  /** Encodes one Text event whose `s` is `length` characters, for this stream (none: encode counts the longest). */
  const encodeText = (id: string, links: Links, length: number, stream?: EventStream) =>
    registry.encode(
      [{ id, type: 'Text', data: { s: 'y'.repeat(length) }, meta: { ...links, occurredAt: OCCURRED_AT } }],
      undefined,
      stream,
    );

  /** The largest string `s` of Text data the registry accepts, with these ids and links. */
  function largestAccepted(id: string, links: Links, stream?: EventStream): number {
    let lo = 0;
    let hi = DEFAULT_MAX_EVENT_BYTES;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      try {
        encodeText(id, links, mid, stream);
        lo = mid;
      } catch (error) {
        expect(error).toBeInstanceOf(EventTooLargeError);
        hi = mid - 1;
      }
    }
    return lo;
  }

  /**
   * The server's own check of that event, pushed to `stream` with the longest sequence numbers the engine could
   * give it (it numbers the event after encode): the bytes it counts, or the error it throws (PAYLOAD_TOO_LARGE
   * for an event over its limit).
   */
  function serverCount(id: string, links: Links, length: number, stream: EventStream): number {
    const clientSeq = Number.MAX_SAFE_INTEGER;
    const event = {
      id,
      ...stream,
      seq: Number.MAX_SAFE_INTEGER,
      type: 'Text',
      version: 1,
      data: { s: 'y'.repeat(length) },
      meta: { occurredAt: OCCURRED_AT, clientId: uuidv7(), clientSeq, ...links },
    };
    const body = { protocolVersion: 1, clientId: event.meta.clientId, from: clientSeq, to: clientSeq, events: [event] };
    const { eventsJson } = validatePush(body, { maxEventsPerPush: 1, maxEventBytes: DEFAULT_LIMITS.maxEventBytes });
    return utf8Length(eventsJson[0]!);
  }

  /** What `run` throws. */
  function thrown(run: () => unknown): unknown {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error('expected a refusal');
  }

  it.each([
    ['a made id, no links', undefined, {}],
    [
      'a given id and both links, of 128 escaped characters each',
      '\u0001'.repeat(MAX_ID_LENGTH),
      { correlationId: '"'.repeat(128), causationId: '\u20ac'.repeat(128) },
    ],
    ['one link', 'evt-1', { causationId: 'cause-1' }],
  ])(
    'given the largest event encode accepts without its stream (%s), then the server accepts it with the longest ids it could carry',
    (_, givenId, links) => {
      const id = givenId ?? uuidv7();
      const length = largestAccepted(id, links);
      // The count is exact, not a guess with room to spare: one byte more would be over the server's limit.
      expect(serverCount(id, links, length, { aggregateId: longest, aggregateType: longest })).toBe(DEFAULT_LIMITS.maxEventBytes);
    },
  );

  it.each([
    ['a short aggregate id and type, a made id, no links', { aggregateId: 'o1', aggregateType: 'Order' }, undefined, {}],
    [
      'a multi-byte aggregate id, a given id and both links',
      { aggregateId: 'order-😀-€', aggregateType: 'Order' },
      'evt-\u20ac',
      { correlationId: 'corr-1', causationId: '"quoted"' },
    ],
    ['the longest escaped aggregate id and type', { aggregateId: longest, aggregateType: longest }, 'evt-1', { causationId: 'c' }],
  ])(
    'given an event just at the limit for its stream (%s), then append and the server both accept it; one byte more, both refuse it',
    (_, stream, givenId, links) => {
      const id = givenId ?? uuidv7();
      const length = largestAccepted(id, links, stream);
      expect(serverCount(id, links, length, stream)).toBe(DEFAULT_LIMITS.maxEventBytes);

      const client = thrown(() => encodeText(id, links, length + 1, stream));
      expect(client).toBeInstanceOf(EventTooLargeError);
      expect(client).toMatchObject({ bytes: DEFAULT_MAX_EVENT_BYTES + 1, limit: DEFAULT_MAX_EVENT_BYTES });
      const server = thrown(() => serverCount(id, links, length + 1, stream));
      expect(server).toBeInstanceOf(SyncError);
      expect(server).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { bytes: DEFAULT_LIMITS.maxEventBytes + 1 } });
    },
  );

  it('given a short aggregate id and type, then append takes as much more data as the longest ones would have counted', () => {
    const id = uuidv7();
    const short = { aggregateId: 'o1', aggregateType: 'Order' };
    const spared = 2 * (MAX_ID_LENGTH * 6 + 2) - utf8Length(JSON.stringify(short.aggregateId) + JSON.stringify(short.aggregateType));
    expect(spared).toBeGreaterThan(1_500);
    expect(largestAccepted(id, {}, short) - largestAccepted(id, {})).toBe(spared);
  });

  it('given append’s request for a stream, then its events are counted with that stream’s aggregate id and type', () => {
    const stream = { aggregateId: 'o1', aggregateType: 'Order' };
    const length = largestAccepted('evt-1', {}, stream);
    const text = (n: number) => [{ id: 'evt-1', type: 'Text', data: { s: 'y'.repeat(n) }, meta: { occurredAt: OCCURRED_AT } }];
    expect(buildRequest(registry, 'o1', text(length), { aggregateType: 'Order' }).events).toHaveLength(1);
    expect(thrown(() => buildRequest(registry, 'o1', text(length + 1), { aggregateType: 'Order' }))).toMatchObject({
      code: 'EVENT_TOO_LARGE',
      bytes: DEFAULT_MAX_EVENT_BYTES + 1,
    });
  });

  it('given an event over the limit, then EventTooLargeError reports its bytes as the server could count them', () => {
    let error: unknown;
    try {
      registry.encode([{ type: 'Text', data: { s: 'y'.repeat(DEFAULT_MAX_EVENT_BYTES) } }]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EventTooLargeError);
    expect((error as EventTooLargeError).bytes).toBeGreaterThan(DEFAULT_MAX_EVENT_BYTES + 1_000);
    expect((error as EventTooLargeError).limit).toBe(DEFAULT_MAX_EVENT_BYTES);
  });

  it('given a maxEventBytes too small for any event’s ids and meta, then a ConfigError at once, not a refusal at every append', () => {
    expect(() => createRegistry({ events: [Text], maxEventBytes: 1000 })).toThrow(ConfigError);
    expect(createRegistry({ events: [Text], maxEventBytes: 2048 }).encode([{ type: 'Text', data: { s: 'fits' } }])).toHaveLength(1);
  });
});
