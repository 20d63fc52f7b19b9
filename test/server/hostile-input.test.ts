import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/core/protocol.ts';
import { MAX_DATA_DEPTH } from '../../src/core/text-rules.ts';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { errorOf, freshLog, httpJson, httpPull, httpPush, makeEvent, makePush, okPull, okPush, TestClient } from './helpers.ts';
import { converse, rawExchange, rawRequest } from './raw-http.ts';

/**
 * Issue 10, points 3, 4 and 6: input PostgreSQL cannot store, data nested
 * deeper than the documented limit, loose parameters, paths with dot segments,
 * oversized request lines and headers, wrong content types, and the order of
 * checks (authentication first). Each gets a 4xx with the documented error
 * body, never a 5xx, and nothing stored changes.
 */

let store: LogStore;
const servers: SyncServer[] = [];
let url: string;

async function start(options: Partial<Parameters<typeof createSyncServer>[0]> = {}): Promise<string> {
  const server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false }, ...options });
  servers.push(server);
  return (await server.listen(0)).url;
}

beforeAll(async () => {
  store = await createPgliteStore();
  url = await start();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store.close();
});

/** The log is as it was: head and the client's mark. */
async function expectNothingStored(log: string, clientId: string): Promise<void> {
  const page = okPull(await httpPull(url, log, { after: 0, clientId }));
  expect({ head: page.head, clientSeq: page.clientSeq }).toEqual({ head: 0, clientSeq: 0 });
}

const NUL = '\u0000';
const LONE_HIGH = 'a\uD800b';
const LONE_LOW = '\uDC00';

describe('strings PostgreSQL cannot store', () => {
  type Mutation = { field: string; apply: (push: ReturnType<typeof makePush>) => void };
  const mutations: Mutation[] = [
    { field: 'events.0.id', apply: (p) => (p.events[0]!.id = `id${NUL}`) },
    { field: 'events.0.aggregateId', apply: (p) => (p.events[0]!.aggregateId = LONE_HIGH) },
    { field: 'events.0.aggregateType', apply: (p) => (p.events[0]!.aggregateType = `Order${LONE_LOW}`) },
    { field: 'events.0.type', apply: (p) => (p.events[0]!.type = `Item${NUL}Added`) },
    { field: 'events.0.meta.correlationId', apply: (p) => (p.events[0]!.meta.correlationId = LONE_HIGH) },
    { field: 'events.0.meta.causationId', apply: (p) => (p.events[0]!.meta.causationId = NUL) },
    { field: 'events.0.data.note', apply: (p) => (p.events[0]!.data = { note: `x${NUL}y` }) },
    { field: 'events.0.data.list[1]', apply: (p) => (p.events[0]!.data = { list: ['ok', LONE_HIGH] }) },
    { field: `events.0.data.k${LONE_LOW}`, apply: (p) => (p.events[0]!.data = { [`k${LONE_LOW}`]: 1 }) },
  ];

  for (const { field, apply } of mutations) {
    it(`${JSON.stringify(field)}: 400 BAD_REQUEST naming the field; nothing stored`, async () => {
      const log = freshLog('nul');
      const push = makePush('c1', 1, [makeEvent({ clientId: 'c1', clientSeq: 1, aggregateId: 'o1', seq: 1 })]);
      apply(push);
      const error = errorOf(await httpPush(url, log, push));
      expect(error).toMatchObject({ status: 400, code: 'BAD_REQUEST', details: { field } });
      await expectNothingStored(log, 'c1');
    });
  }

  it('a NUL or lone surrogate in the clientId (push and meta): 400 naming clientId', async () => {
    const log = freshLog('nul');
    const bad = `c${NUL}`;
    const push = makePush(bad, 1, [makeEvent({ clientId: bad, clientSeq: 1, aggregateId: 'o1', seq: 1 })]);
    expect(errorOf(await httpPush(url, log, push))).toMatchObject({ status: 400, details: { field: 'clientId' } });
    const lone = makePush('c2', 1, [makeEvent({ clientId: 'c2', clientSeq: 1, aggregateId: 'o1', seq: 1 })]);
    lone.events[0]!.meta.clientId = `c2${LONE_HIGH}`;
    const reply = errorOf(await httpPush(url, log, lone));
    expect(reply.details.issues).toContainEqual(expect.objectContaining({ path: 'events.0.meta.clientId' }));
    await expectNothingStored(log, 'c2');
  });

  it('the clientId pull parameter: 400 naming clientId, not 500', async () => {
    const log = freshLog('nul');
    const nul = await httpJson(`${url}/v1/logs/${log}/pull?after=0&clientId=a%00b`);
    expect(errorOf(nul)).toMatchObject({ status: 400, code: 'BAD_REQUEST', details: { field: 'clientId' } });
    // A lone surrogate cannot be percent-encoded as UTF-8: an encoded half pair, like any byte sequence that is
    // not UTF-8, is refused rather than read as U+FFFD (which would answer for another clientId than the one sent).
    for (const encoded of ['a%ED%A0%80b', 'a%FFb', '%C3']) {
      const reply = await httpJson(`${url}/v1/logs/${log}/pull?after=0&clientId=${encoded}`);
      expect(errorOf(reply)).toMatchObject({ status: 400, code: 'BAD_REQUEST', details: { field: 'clientId' } });
    }
    // Valid UTF-8, percent-encoded or as `+` for a space, is read as sent.
    okPush(await httpPush(url, log, new TestClient('café 1').next(['o1'])));
    expect(okPull(await httpJson(`${url}/v1/logs/${log}/pull?after=0&clientId=caf%C3%A9+1`)).clientSeq).toBe(1);
    // Parameters the pull does not read are ignored, however they are encoded.
    expect(okPull(await httpJson(`${url}/v1/logs/${log}/pull?after=0&other=%FF`)).events).toHaveLength(1);
  });

  it('the same push without the bad character is stored (the refusal was about the string alone)', async () => {
    const log = freshLog('nul');
    okPush(await httpPush(url, log, new TestClient('fine').next(['o1'])));
  });
});

/** `{ d: { d: ... { d: 1 } } }`, `levels` objects deep. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { d: value };
  return value;
}

describe('nesting depth', () => {
  it(`data nested ${MAX_DATA_DEPTH} levels is stored; one level more is 400 naming the path`, async () => {
    const log = freshLog('deep');
    okPush(
      await httpPush(
        url,
        log,
        makePush('d', 1, [makeEvent({ clientId: 'd', clientSeq: 1, aggregateId: 'o', seq: 1, data: nested(MAX_DATA_DEPTH) })]),
      ),
    );
    const over = await httpPush(
      url,
      log,
      makePush('d', 2, [makeEvent({ clientId: 'd', clientSeq: 2, aggregateId: 'o', seq: 2, data: nested(MAX_DATA_DEPTH + 1) })]),
    );
    const error = errorOf(over);
    expect(error).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(error.message).toMatch(/nested more than 64 levels/);
    expect(String(error.details.field)).toMatch(/^events\.0\.data\.d\.d/);
  });

  it('data nested 10,000 levels (objects or arrays) is 400, never 500', async () => {
    const log = freshLog('deep');
    const event = JSON.stringify(makeEvent({ clientId: 'z', clientSeq: 1, aggregateId: 'o', seq: 1 }));
    for (const [open, close] of [
      ['{"d":', '}'],
      ['[', ']'],
    ] as const) {
      const data = `${open.repeat(10_000)}1${close.repeat(10_000)}`;
      const body = `{"protocolVersion":2,"clientId":"z","from":1,"to":1,"events":[${event.replace('{"n":1}', data)}]}`;
      expect(errorOf(await httpPush(url, log, body))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    }
    // Deep nesting where no data is expected is refused by the schema too.
    const elsewhere = `{"protocolVersion":2,"clientId":${'['.repeat(10_000)}${']'.repeat(10_000)},"from":1,"to":1,"events":[]}`;
    expect(errorOf(await httpPush(url, log, elsewhere))).toMatchObject({ status: 400, details: { field: 'clientId' } });
    await expectNothingStored(log, 'z');
  });
});

describe('strict parameters', () => {
  it('after and limit are plain decimal integers: "", 0x10, 1e1, +5, " 5", 5.0, -1 are 400 naming the parameter', async () => {
    const log = freshLog('params');
    okPush(await httpPush(url, log, new TestClient('p').next(['a', 'b'])));
    for (const bad of ['', '0x10', '1e1', '+5', ' 5', '5 ', '5.0', '-1', '1_0', 'Infinity']) {
      const after = await httpJson(`${url}/v1/logs/${log}/pull?after=${encodeURIComponent(bad)}`);
      expect(errorOf(after), `after=${JSON.stringify(bad)}`).toMatchObject({
        status: 400,
        code: 'BAD_REQUEST',
        details: { field: 'after' },
      });
      const limit = await httpJson(`${url}/v1/logs/${log}/pull?after=0&limit=${encodeURIComponent(bad)}`);
      expect(errorOf(limit), `limit=${JSON.stringify(bad)}`).toMatchObject({ status: 400, details: { field: 'limit' } });
    }
    expect(okPull(await httpJson(`${url}/v1/logs/${log}/pull?after=1&limit=1`)).events.map((e) => e.position)).toEqual([2]);
  });

  it('a parameter given twice is 400', async () => {
    const reply = await httpJson(`${url}/v1/logs/${freshLog()}/pull?after=0&after=5`);
    expect(errorOf(reply)).toMatchObject({ status: 400, details: { field: 'after' } });
  });

  it('dot segments in the path are 400 field=log, and /v1/logs/s/../t/push stores nothing into t', async () => {
    const t = freshLog('t');
    const push = JSON.stringify(new TestClient('dots').next(['a']));
    const headers = { 'content-type': 'application/json' };
    for (const path of [
      `/v1/logs/s/../${t}/push`,
      `/v1/logs/./${t}/push`,
      `/v1/logs/%2e%2e/push`,
      `/v1/logs/s/%2E%2E/${t}/push`,
      `/v1/logs/../pull?after=0`,
    ]) {
      const reply = await rawRequest(url, {
        method: path.includes('push') ? 'POST' : 'GET',
        path,
        headers,
        body: path.includes('push') ? push : undefined,
      });
      expect(reply.status, path).toBe(400);
      expect(reply.json, path).toMatchObject({ error: { code: 'BAD_REQUEST', details: { field: 'log' } } });
    }
    expect(await store.head(t)).toBe(0);
  });

  it('a 20,000-character log name is 400 field=log with an error body, not a bare 431', async () => {
    const name = 'x'.repeat(20_000);
    const reply = await rawRequest(url, { path: `/v1/logs/${name}/pull?after=0` });
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ error: { code: 'BAD_REQUEST', details: { field: 'log' } } });
  });

  it('a 64 KB header is 431 HEADERS_TOO_LARGE with the error body', async () => {
    const reply = await rawExchange(url, `GET /v1/logs/x/pull?after=0 HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(64 * 1024)}\r\n\r\n`);
    expect(reply.status).toBe(431);
    expect(reply.headers['content-type']).toMatch(/application\/json/);
    expect(reply.json).toMatchObject({ error: { code: 'HEADERS_TOO_LARGE', details: { limit: 32 * 1024 } } });
  });

  it('malformed HTTP gets 400 with the error body', async () => {
    const reply = await rawExchange(url, 'GARBAGE\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it('a push without content-type application/json is 415, before its body is read', async () => {
    const log = freshLog('ct');
    const push = JSON.stringify(new TestClient('ct').next(['a']));
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const reply = await rawRequest(url, {
        method: 'POST',
        path: `/v1/logs/${log}/push`,
        headers: type ? { 'content-type': type } : {},
        body: push,
      });
      expect(reply.status, String(type)).toBe(415);
      expect(reply.json).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', details: { expected: 'application/json' } } });
    }
    okPush(
      await rawRequest(url, {
        method: 'POST',
        path: `/v1/logs/${log}/push`,
        headers: { 'content-type': 'Application/JSON; charset=utf-8' },
        body: push,
      }).then((r) => ({ status: r.status, headers: new Headers(), body: r.json })),
    );
  });

  it('a push or fence in a content coding (gzip, br...) is 415 naming it, before its body is read; identity is a plain body', async () => {
    const log = freshLog('ce');
    const push = JSON.stringify(new TestClient('ce').next(['a']));
    const send = (path: string, encoding: string, body: string | Buffer) =>
      rawRequest(url, {
        method: 'POST',
        path: `/v1/logs/${log}/${path}`,
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      });
    // A gzipped push was read as it is: 400 "not valid UTF-8", which a client takes for its events refused for good.
    // A plain push labelled gzip was stored. Both are 415 now (retried, nothing rejected), and nothing is stored.
    const cases: [string, string, string | Buffer][] = [
      ['push', 'gzip', gzipSync(push)],
      ['push', 'gzip', push],
      ['push', 'GZIP', push],
      ['push', 'identity, br', push],
      ['fence', 'deflate', JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'ce', epoch: 1 })],
    ];
    for (const [path, encoding, body] of cases) {
      const reply = await send(path, encoding, body);
      expect(reply.status, `${path} ${encoding}`).toBe(415);
      expect(reply.json).toMatchObject({
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', details: { header: 'content-encoding', expected: 'identity', received: encoding } },
      });
      expect((reply.json as { error: { message: string } }).error.message).toContain(encoding);
      expect(reply.headers['accept-encoding']).toBe('identity');
    }
    await expectNothingStored(log, 'ce');
    // identity (any case) is no coding at all: the push is stored.
    expect((await send('push', 'Identity', push)).status).toBe(200);
  });
});

describe('HTTP Node cannot parse, pipelined behind a push', () => {
  // The push is stored, so its 200 must reach the client: a 400 written in its place would tell the client
  // its events were refused for good (docs/protocol.md, "Which refusals are permanent"). The bad bytes get
  // their 400 in their turn, after the replies of the requests before them; then the connection closes.
  const pushOf = (log: string, push: unknown, headers = ''): string => {
    const body = JSON.stringify(push);
    return (
      `POST /v1/logs/${log}/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };
  // Not anchored to a line start: a reply's body has no line end, and the next reply follows it directly.
  const statusLines = (text: string): string[] => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

  it('a push followed by a request that is not HTTP: its 200, then the 400, then the connection closes; the push is stored', async () => {
    const log = freshLog('pipe');
    const started = performance.now();
    const text = await converse(url, [{ text: `${pushOf(log, new TestClient('p1').next(['a']))}GARBAGE\r\n\r\n`, afterMs: 0 }], 5_000);
    expect(statusLines(text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(text).toMatch(/"positions":\[\{"id":"p1:1","clientSeq":1,"position":1\}\]/);
    expect(performance.now() - started).toBeLessThan(4_000); // closed by the server, not by converse's bound
    expect(okPull(await httpPull(url, log, { after: 0, clientId: 'p1' })).clientSeq).toBe(1);
  });

  it('a push with Connection: close followed by stray bytes: its 200 and nothing else (the connection closes after it)', async () => {
    const log = freshLog('pipe');
    const push = pushOf(log, new TestClient('p2').next(['a']), 'Connection: close\r\n');
    const text = await converse(url, [{ text: `${push}xx`, afterMs: 0 }], 5_000);
    expect(statusLines(text)).toEqual(['HTTP/1.1 200']);
    expect(okPull(await httpPull(url, log, { after: 0, clientId: 'p2' })).clientSeq).toBe(1);
  });

  it('two pushes followed by a request that is not HTTP: both 200s, in order, then the 400', async () => {
    const log = freshLog('pipe');
    const client = new TestClient('p3');
    const [first, second] = [pushOf(log, client.next(['a'])), pushOf(log, client.next(['a']))];
    const text = await converse(url, [{ text: `${first}${second}GARBAGE\r\n\r\n`, afterMs: 0 }], 5_000);
    expect(statusLines(text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(okPull(await httpPull(url, log, { after: 0, clientId: 'p3' })).clientSeq).toBe(2);
  });

  it('a push whose own chunked body is not valid HTTP gets its 400 at once, not after its body timeout', async () => {
    // Its reply is under way when the parser fails, but the error is its own: nothing is ahead of the 400.
    const head = 'POST /v1/logs/pipe/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const started = performance.now();
    const text = await converse(url, [{ text: `${head}ZZ\r\nabc\r\n`, afterMs: 0 }], 5_000);
    expect(statusLines(text)).toEqual(['HTTP/1.1 400']);
    expect(text).toContain('"reason":"HPE_INVALID_CHUNK_SIZE"');
    expect(performance.now() - started).toBeLessThan(4_000);
  });
});

describe('authentication comes first', () => {
  let authed: string;
  beforeAll(async () => {
    authed = await start({ auth: { tokens: { good: { read: '*', write: '*' } } } });
  });

  it('no token is 401 even for a bad log name, a dot segment, a wrong method, an unknown action or a wrong content type', async () => {
    const cases: { method: string; path: string; headers?: Record<string, string> }[] = [
      { method: 'GET', path: '/v1/logs/bad%20name/pull?after=0' },
      { method: 'GET', path: `/v1/logs/${'x'.repeat(500)}/pull?after=0` },
      { method: 'POST', path: '/v1/logs/s/../t/push', headers: { 'content-type': 'application/json' } },
      { method: 'DELETE', path: '/v1/logs/acme/push' },
      { method: 'GET', path: '/v1/logs/acme/erase' },
      { method: 'POST', path: '/v1/logs/acme/push', headers: { 'content-type': 'text/plain' } },
      { method: 'GET', path: '/v1/logs/acme/pull?after=banana' },
    ];
    for (const c of cases) {
      const reply = await rawRequest(authed, { ...c, body: c.method === 'POST' ? '{}' : undefined });
      expect(reply.status, `${c.method} ${c.path.slice(0, 40)}`).toBe(401);
      expect(reply.json).toMatchObject({ error: { code: 'UNAUTHORIZED', details: { reason: 'missing-token' } } });
    }
    // With the token, each gets its own answer.
    const bad = await rawRequest(authed, { path: '/v1/logs/bad%20name/pull?after=0', headers: { authorization: 'Bearer good' } });
    expect(bad.status).toBe(400);
    const method = await rawRequest(authed, { method: 'DELETE', path: '/v1/logs/acme/push', headers: { authorization: 'Bearer good' } });
    expect(method.status).toBe(405);
  });
});
