import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type SyncServer } from '../../src/server/index.ts';
import { errorBodySchema } from '../../src/core/protocol.ts';
import { rawRequest } from './raw-http.ts';

/**
 * A bounded fuzz of push and pull requests against a real server: whatever
 * arrives, the reply is never 5xx, and every non-2xx reply carries the
 * documented error body (issue 10, "done when").
 */

let server: SyncServer;
let url: string;
beforeAll(async () => {
  server = createSyncServer({
    store: await createPgliteStore(),
    logger: silentLogger,
    limits: { rateLimit: false, maxRequestBytes: 256 * 1024 },
  });
  url = (await server.listen(0)).url;
});
afterAll(() => server.close());

const NASTY = ['\u0000', '\uD800', '\uDFFF', '..', '%00', '%2e%2e', '"', '\\', '😀', ' ', '\n'];
const text = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 6 }));
const number = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1.5, 2 ** 53, Number.MAX_VALUE, 1e308));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('any'), { maxLength: 3 }),
    fc.dictionary(text, tie('any'), { maxKeys: 3 }),
  ),
})).any;

/** Events that are mostly well formed, with anything in any field now and then. */
const event = fc.record({
  id: fc.oneof(fc.uuid(), text),
  aggregateId: fc.oneof(fc.constantFrom('o1', 'o2'), text),
  aggregateType: fc.oneof(fc.constant('Order'), text),
  seq: fc.oneof(fc.integer({ min: 1, max: 4 }), number),
  type: fc.oneof(fc.constant('ItemAdded'), text),
  version: fc.oneof(fc.constant(1), number),
  data: value,
  meta: fc.oneof(
    fc.record({
      occurredAt: fc.oneof(fc.integer(), number),
      clientId: fc.constantFrom('f1', 'f2'),
      clientSeq: fc.integer({ min: 1, max: 6 }),
    }),
    value,
  ),
});

const pushBody = fc.oneof(
  fc
    .record(
      {
        protocolVersion: fc.oneof(fc.constantFrom(1, 2), value),
        clientId: fc.oneof(fc.constantFrom('f1', 'f2'), text),
        epoch: fc.option(fc.oneof(fc.nat(5), number), { nil: undefined }),
        from: fc.oneof(fc.integer({ min: 1, max: 6 }), number),
        to: fc.oneof(fc.integer({ min: 1, max: 6 }), number),
        events: fc.oneof(fc.array(event, { maxLength: 4 }), value),
      },
      { requiredKeys: [] },
    )
    .map((body) => JSON.stringify(body)),
  value.map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ maxLength: 40 }),
  validWithOneBadField(),
  validWithOneBadField(),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => template(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
);

/** A valid push of one event whose data is the JSON text given. */
function template(dataJson: string, clientId = 'f1'): string {
  const event = {
    id: `e-${Math.random()}`,
    aggregateId: 'o9',
    aggregateType: 'Order',
    seq: 1,
    type: 'ItemAdded',
    version: 1,
    data: 0,
    meta: { occurredAt: 1, clientId, clientSeq: 1 },
  };
  return JSON.stringify({ protocolVersion: 2, clientId, from: 1, to: 1, events: [event] }).replace('"data":0', `"data":${dataJson}`);
}

/** A push that is valid but for one string field, which holds something PostgreSQL cannot store (or odd but storable). */
function validWithOneBadField(): fc.Arbitrary<string> {
  return fc
    .record({
      field: fc.constantFrom('id', 'aggregateId', 'aggregateType', 'type', 'clientId', 'correlationId', 'data', 'key'),
      bad: fc.constantFrom('\u0000', '\uD800', '\uDFFF', 'a\uDBFFb', 'ok\uD83D\uDE00'),
      seq: fc.integer({ min: 1, max: 3 }),
    })
    .map(({ field, bad, seq }) => {
      const clientId = field === 'clientId' ? `f${bad}` : `f-${seq}`;
      const event: Record<string, unknown> = {
        id: `e-${seq}-${Math.random()}`,
        aggregateId: `o-${seq}`,
        aggregateType: 'Order',
        seq: 1,
        type: 'ItemAdded',
        version: 1,
        data: { n: 1 },
        meta: { occurredAt: 1, clientId, clientSeq: 1 } as Record<string, unknown>,
      };
      if (field === 'data') event.data = { n: bad };
      else if (field === 'key') event.data = { [bad]: 1 };
      else if (field === 'correlationId') (event.meta as Record<string, unknown>).correlationId = bad;
      else if (field !== 'clientId') event[field] = `${event[field] as string}${bad}`;
      return JSON.stringify({ protocolVersion: 2, clientId, from: 1, to: 1, events: [event] });
    });
}

const queryValue = fc.oneof(
  fc.constantFrom('0', '1', '5000', '5001', '', '-1', '0x10', '1e1', '+5', ' 5', '9'.repeat(30), '%00', 'a%ED%A0%80'),
  fc.string({ maxLength: 8 }),
);
const pullQuery = fc
  .record(
    { after: fc.option(queryValue), limit: fc.option(queryValue), clientId: fc.option(queryValue), extra: fc.option(queryValue) },
    { requiredKeys: [] },
  )
  .map((q) =>
    Object.entries(q)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${encodeURIComponent(v as string).replace(/%25/g, '%')}`)
      .join('&'),
  );
const logName = fc.oneof(
  fc.constantFrom('fuzz', 'fuzz-2', 'a.b', '..', '.', '%2e', 'x'.repeat(70), '%ZZ', 'a%2Fb', '%00'),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
);

function expectDocumented(status: number, json: unknown, what: string): void {
  expect(status, what).toBeLessThan(500);
  if (status >= 400) expect(errorBodySchema.safeParse(json).success, `${what}: ${JSON.stringify(json)}`).toBe(true);
}

describe('fuzz: no request gets a 5xx', () => {
  it('push bodies (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(logName, pushBody, async (log, body) => {
        const reply = await rawRequest(url, {
          method: 'POST',
          path: `/v1/logs/${log}/push`,
          headers: { 'content-type': 'application/json' },
          body,
        });
        expectDocumented(reply.status, reply.json, `push ${log} ${body.slice(0, 200)}`);
      }),
      { numRuns: 300, seed: 1203 },
    );
  });

  it('pull queries (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(logName, pullQuery, async (log, query) => {
        const reply = await rawRequest(url, { path: `/v1/logs/${log}/pull?${query}` });
        expectDocumented(reply.status, reply.json, `pull ${log}?${query}`);
      }),
      { numRuns: 300, seed: 1204 },
    );
  });
});
