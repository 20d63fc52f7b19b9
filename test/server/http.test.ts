import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, pullResponseSchema, pushResponseMinimalSchema } from '../../src/core/protocol.ts';
import {
  createPgliteStore,
  createSyncServer,
  silentLogger,
  requestToken,
  SyncError,
  type LogStore,
  type SyncServer,
  type SyncServerOptions,
} from '../../src/server/index.ts';
import {
  errorOf,
  freshLog,
  httpJson,
  httpPull,
  httpPush,
  makeEvent,
  makePush,
  okPull,
  okPush,
  openLive,
  pullAll,
  TestClient,
} from './helpers.ts';

let store: LogStore;
const servers: SyncServer[] = [];

/** A server over the shared store; closed (without the store) after the file. */
async function start(options: Partial<SyncServerOptions> = {}): Promise<{ url: string; server: SyncServer }> {
  const server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false }, ...options });
  servers.push(server);
  const { url } = await server.listen(0);
  return { url, server };
}

beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store.close();
});

/** Nothing stored: the head and the client's mark are unchanged. */
async function expectUnchanged(url: string, log: string, clientId: string, head: number, clientSeq: number): Promise<void> {
  const page = okPull(await httpPull(url, log, { after: 0, clientId }));
  expect({ head: page.head, clientSeq: page.clientSeq, events: page.events.length }).toEqual({ head, clientSeq, events: head });
}

describe('HTTP: push and pull', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await start());
  });

  it('push then pull: positions, head, hasMore and the client mark, every reply valid by the protocol schemas', async () => {
    const log = freshLog();
    const client = new TestClient('web-1');
    const pushed = okPush(await httpPush(url, log, client.next(['o1', 'o2', 'o1'])));
    expect(pushed).toEqual({
      positions: [
        { id: 'web-1:1', clientSeq: 1, position: 1 },
        { id: 'web-1:2', clientSeq: 2, position: 2 },
        { id: 'web-1:3', clientSeq: 3, position: 3 },
      ],
      duplicates: 0,
      clientSeq: 3,
      head: 3,
    });
    const page = okPull(await httpPull(url, log, { after: 1, limit: 1, clientId: 'web-1' }));
    expect(page.events.map((e) => e.position)).toEqual([2]);
    expect(page).toMatchObject({ head: 3, hasMore: true, clientSeq: 3 });
    expect((await pullAll(url, log)).map((e) => e.id)).toEqual(['web-1:1', 'web-1:2', 'web-1:3']);
  });

  it('a committed range retried (its response was lost) is acknowledged with the same positions, stored once', async () => {
    const log = freshLog();
    const client = new TestClient('retry');
    const range = client.next(['a', 'b']);
    const first = okPush(await httpPush(url, log, range));
    const again = okPush(await httpPush(url, log, range));
    expect(again.positions).toEqual(first.positions);
    expect(again.duplicates).toBe(2);
    expect(await pullAll(url, log)).toHaveLength(2);
  });

  it('Prefer: return=minimal leaves positions out of a push reply and says so; everything else is as without it', async () => {
    const log = freshLog();
    const client = new TestClient('minimal');
    const push = (body: unknown, prefer?: string) =>
      httpJson(`${url}/v1/logs/${log}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://app.example', ...(prefer ? { prefer } : {}) },
        body: JSON.stringify(body),
      });
    const range = client.next(['a', 'b', 'a']);
    const minimal = await push(range, 'return=minimal');
    expect(minimal.status).toBe(200);
    expect(minimal.body).toEqual({ duplicates: 0, clientSeq: 3, head: 3 });
    expect(pushResponseMinimalSchema.parse(minimal.body)).toEqual(minimal.body);
    expect(minimal.headers.get('preference-applied')).toBe('return=minimal');
    // A browser app may read the header: it is exposed to cross-origin callers.
    expect(minimal.headers.get('access-control-expose-headers')).toContain('preference-applied');
    // The same range again (a retry): acknowledged as duplicates, still without positions, stored once.
    const retried = await push(range, 'respond-async, Return="Minimal"');
    expect(retried.body).toEqual({ duplicates: 3, clientSeq: 3, head: 3 });
    expect(retried.headers.get('preference-applied')).toBe('return=minimal');
    // Another preference, or none: the whole reply, with no Preference-Applied.
    for (const prefer of [undefined, 'return=representation', 'return=minimalist']) {
      const whole = await push(range, prefer);
      expect(okPush(whole).positions.map((p) => p.position)).toEqual([1, 2, 3]);
      expect(whole.headers.get('preference-applied')).toBeNull();
    }
    // Refusals are the same error bodies with it.
    const gap = await push(
      makePush('minimal', 9, [makeEvent({ clientId: 'minimal', clientSeq: 9, aggregateId: 'z', seq: 1 })]),
      'return=minimal',
    );
    expect(errorOf(gap)).toMatchObject({ status: 409, code: 'CLIENT_SEQ_GAP' });
    expect(gap.headers.get('preference-applied')).toBeNull();
    expect((await pullAll(url, log)).map((e) => e.position)).toEqual([1, 2, 3]);
  });

  it('CLIENT_SEQ_GAP (409) names the clientSeq the server expects', async () => {
    const log = freshLog();
    const client = new TestClient('gappy');
    okPush(await httpPush(url, log, client.next(['a'])));
    client.next(['a']); // clientSeq 2 never sent
    const reply = await httpPush(url, log, client.next(['a']));
    expect(errorOf(reply)).toMatchObject({ status: 409, code: 'CLIENT_SEQ_GAP', details: { expected: 2, from: 3 } });
    await expectUnchanged(url, log, 'gappy', 1, 1);
  });

  it('SEQ_CONFLICT (409) names the aggregate, the seq and the server head', async () => {
    const log = freshLog();
    okPush(await httpPush(url, log, new TestClient('x').next(['order', 'order', 'order'])));
    const reply = await httpPush(url, log, new TestClient('y').next(['other', 'order']));
    expect(errorOf(reply)).toMatchObject({ status: 409, code: 'SEQ_CONFLICT', details: { aggregateId: 'order', seq: 1, head: 3 } });
    await expectUnchanged(url, log, 'y', 3, 0);
  });

  it('DUPLICATE_EVENT_ID (409) and CLIENT_SEQ_MISMATCH (409)', async () => {
    const log = freshLog();
    okPush(
      await httpPush(url, log, makePush('a', 1, [makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1, id: 'the-id' })])),
    );
    const dup = await httpPush(
      url,
      log,
      makePush('b', 1, [makeEvent({ clientId: 'b', clientSeq: 1, aggregateId: 'p', seq: 1, id: 'the-id' })]),
    );
    expect(errorOf(dup)).toMatchObject({
      status: 409,
      code: 'DUPLICATE_EVENT_ID',
      details: { id: 'the-id', storedClientId: 'a', position: 1 },
    });
    const mismatch = await httpPush(
      url,
      log,
      makePush('a', 1, [makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1, id: 'other-id' })]),
    );
    expect(errorOf(mismatch)).toMatchObject({ status: 409, code: 'CLIENT_SEQ_MISMATCH', details: { clientSeq: 1, storedId: 'the-id' } });
    await expectUnchanged(url, log, 'b', 1, 0);
  });

  it('a bad request gets 400 BAD_REQUEST with a reason and stores nothing', async () => {
    const log = freshLog();
    okPush(await httpPush(url, log, new TestClient('ok').next(['a'])));
    const valid = new TestClient('bad').next(['a', 'b']);

    const notJson = errorOf(await httpPush(url, log, '{"protocolVersion":1,'));
    expect(notJson).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(notJson.message).toMatch(/not valid JSON/);

    const wrongCount = errorOf(await httpPush(url, log, { ...valid, to: 3 }));
    expect(wrongCount).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(wrongCount.details.issues).toContainEqual({ path: 'events', message: 'events must hold exactly to - from + 1 events' });

    const wrongClient = structuredClone(valid);
    wrongClient.events[1]!.meta.clientId = 'someone-else';
    expect(errorOf(await httpPush(url, log, wrongClient)).details.issues).toContainEqual({
      path: 'events.1.meta.clientId',
      message: 'must equal the push clientId',
    });

    const withPosition = structuredClone(valid) as unknown as { events: Record<string, unknown>[] };
    withPosition.events[0]!.position = 7;
    expect(errorOf(await httpPush(url, log, withPosition))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });

    const missingField = structuredClone(valid) as unknown as { events: Record<string, unknown>[] };
    delete missingField.events[0]!.aggregateId;
    expect(errorOf(await httpPush(url, log, missingField)).message).toMatch(/events\.0\.aggregateId/);

    expect(errorOf(await httpPush(url, log, '[1,2]'))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(await httpPush(url, 'bad%20name', valid))).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
      details: { field: 'log' },
    });
    expect(errorOf(await httpPull(url, log, { after: -1 }))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(await httpJson(`${url}/v1/logs/${log}/pull`))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(await httpJson(`${url}/v1/logs/${log}/live`))).toMatchObject({ status: 400, details: { reason: 'websocket-required' } });

    await expectUnchanged(url, log, 'bad', 1, 0);
  });

  it('UNSUPPORTED_PROTOCOL (400) names the versions the server supports', async () => {
    const log = freshLog();
    const push = { ...new TestClient('future').next(['a']), protocolVersion: PROTOCOL_VERSION + 1 };
    expect(errorOf(await httpPush(url, log, push))).toMatchObject({
      status: 400,
      code: 'UNSUPPORTED_PROTOCOL',
      details: { supported: [1, 2], received: PROTOCOL_VERSION + 1 },
    });
    await expectUnchanged(url, log, 'future', 0, 0);
  });

  it('NOT_FOUND (404) and METHOD_NOT_ALLOWED (405, with Allow)', async () => {
    expect(errorOf(await httpJson(`${url}/v1/nothing`))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(errorOf(await httpJson(`${url}/v1/logs/x/erase`, { method: 'POST' }))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const reply = await httpJson(`${url}/v1/logs/x/push`);
    expect(errorOf(reply)).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    expect(reply.headers.get('allow')).toBe('POST');
    const pull = await httpJson(`${url}/v1/logs/x/pull`, { method: 'DELETE' });
    expect(errorOf(pull)).toMatchObject({ status: 405, details: { allow: ['GET', 'HEAD'] } });
    // HEAD is served wherever GET is, and the Allow header says so.
    expect(pull.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${url}/v1/logs/x/pull?after=0`, { method: 'HEAD' })).status).toBe(200);
    // One trailing slash after the action is the same route; an empty segment elsewhere is none.
    expect((await httpJson(`${url}/v1/logs/x/pull/?after=0`)).status).toBe(200);
    expect(errorOf(await httpJson(`${url}/v1/logs/x//pull?after=0`))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('/health is liveness, /ready checks the store', async () => {
    expect(await httpJson(`${url}/health`)).toMatchObject({ status: 200, body: { status: 'ok', protocolVersion: PROTOCOL_VERSION } });
    expect(await httpJson(`${url}/ready`)).toMatchObject({ status: 200, body: { status: 'ready', store: 'pglite' } });
  });

  it('CORS: a preflight from another origin is answered, replies carry Access-Control-Allow-Origin', async () => {
    const preflight = await fetch(`${url}/v1/logs/x/push`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    const pulled = await httpPull(url, 'x', { after: 0 });
    expect(pulled.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('CORS with a list of origins allows only those', async () => {
    const { url: listed } = await start({ cors: { origins: ['https://good.example'] } });
    const good = await fetch(`${listed}/v1/logs/x/pull?after=0`, { headers: { origin: 'https://good.example' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('https://good.example');
    const evil = await fetch(`${listed}/v1/logs/x/pull?after=0`, { headers: { origin: 'https://evil.example' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('HTTP: a request that never finishes its headers', () => {
  it('is answered 408 within the header timeout (plus Node checking for it), not up to 30 s later', async () => {
    const { url } = await start({ timeouts: { headersMs: 400 } });
    const { port } = new URL(url);
    const started = performance.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(8000, () => socket.destroy(new Error('no reply within 8 s')));
    });
    const waited = performance.now() - started;
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply).toContain('"REQUEST_TIMEOUT"');
    // Every origin is allowed (the default): a browser may read this reply too.
    expect(parseRaw(reply).headers['access-control-allow-origin']).toBe('*');
    // The bound, not a speed: 400 ms, plus at most 100 ms until Node looks (a quarter of it), plus slack.
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(3000);
  }, 15_000);
});

/** Sends raw bytes on a new connection; resolves with everything the server sent until it closed (or 3 s passed). */
function rawExchange(url: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('utf8')));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(3000, () => socket.destroy());
  });
}

/**
 * As rawExchange, and whether the server ended the connection itself (its FIN) before the 3 s this side
 * waits; a server that keeps the connection alive (Node's keep-alive timeout is 5 s) does not.
 */
function rawExchangeUntilClosed(url: string, text: string): Promise<{ reply: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(text));
    let reply = '';
    let closedByServer = false;
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('utf8')));
    socket.on('end', () => (closedByServer = true));
    socket.on('close', () => resolve({ reply, closedByServer }));
    socket.on('error', reject);
    socket.setTimeout(3000, () => socket.destroy());
  });
}

/** The status, headers (lower-cased names) and JSON body of a raw HTTP/1.1 reply. */
function parseRaw(reply: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = reply.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: body ? JSON.parse(body) : undefined };
}

describe('HTTP: upgrades', () => {
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  const websocket = (headers: string) => `Connection: Upgrade\r\nUpgrade: websocket\r\n${headers}`;

  it('a request Node cannot parse gets the error body, with CORS headers when every origin is allowed', async () => {
    const open = parseRaw(await rawExchange((await start()).url, 'NOT HTTP AT ALL\r\n\r\n'));
    expect(open).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
    expect(open.headers['access-control-allow-origin']).toBe('*');
    expect(open.headers['access-control-expose-headers']).toContain('x-request-id');
    // With a list of origins, the request's Origin is unknown: no CORS header is guessed.
    const listed = parseRaw(await rawExchange((await start({ cors: { origins: ['https://shop.example'] } })).url, 'NOT HTTP\r\n\r\n'));
    expect(listed.status).toBe(400);
    expect(listed.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('an upgrade to another protocol (curl --http2 asks for h2c) is ignored: the request is served as HTTP/1.1', async () => {
    const { url } = await start();
    const health = parseRaw(await rawExchange(url, `GET /health HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`));
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(health.headers['x-request-id']).toBeTruthy();
    const log = freshLog('h2c');
    okPush(await httpPush(url, log, new TestClient('h2c-1').next(['o1'])));
    const pull = parseRaw(await rawExchange(url, `GET /v1/logs/${log}/pull?after=0 HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`));
    expect(pull.status).toBe(200);
    expect(pullResponseSchema.parse(pull.body).events).toHaveLength(1);
  });

  it('such an upgrade on a request with a body is 400 with the error body, and nothing is stored', async () => {
    const { url } = await start();
    const log = freshLog('h2c-push');
    const body = JSON.stringify(new TestClient('h2c-2').next(['o1']));
    const request =
      `POST /v1/logs/${log}/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${h2c}\r\n${body}`;
    const reply = parseRaw(await rawExchange(url, request));
    expect(reply).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST', details: { reason: 'upgrade-not-supported' } } } });
    await expectUnchanged(url, log, 'h2c-2', 0, 0);
  });

  it("a malformed WebSocket handshake on the live path gets the protocol error body, not ws's own text", async () => {
    const { url } = await start();
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const cases: [string, number, Record<string, unknown>][] = [
      [
        `GET /v1/logs/a/live HTTP/1.1\r\nHost: x\r\n${websocket(`${key}Sec-WebSocket-Version: 7\r\n`)}\r\n`,
        400,
        { header: 'sec-websocket-version' },
      ],
      [
        `GET /v1/logs/a/live HTTP/1.1\r\nHost: x\r\n${websocket('Sec-WebSocket-Version: 13\r\n')}\r\n`,
        400,
        { header: 'sec-websocket-key' },
      ],
      [`POST /v1/logs/a/live HTTP/1.1\r\nHost: x\r\n${websocket(`${key}Sec-WebSocket-Version: 13\r\n`)}\r\n`, 405, { allow: ['GET'] }],
    ];
    for (const [request, status, details] of cases) {
      const reply = parseRaw(await rawExchange(url, request));
      expect(reply.status).toBe(status);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers['x-request-id']).toBeTruthy();
      expect(reply.body).toMatchObject({ error: { details } });
    }
    // A sound one still opens the socket.
    const opened = await rawExchange(
      url,
      `GET /v1/logs/a/live HTTP/1.1\r\nHost: x\r\n${websocket(`${key}Sec-WebSocket-Version: 13\r\n`)}\r\n`,
    );
    expect(opened).toMatch(/^HTTP\/1\.1 101 /);
  });
});

describe('HTTP: Connection: close and HTTP/1.0', () => {
  // RFC 9112, 9.6: a request that asks to close (Connection: close, or HTTP/1.0 without keep-alive) is
  // answered with connection: close and the server closes the connection. The server keeps it open only
  // while the rest of a body it answered early is still arriving (docs/protocol.md, Limits); here every
  // request has arrived whole, also the refused pushes' bodies, in the same write as their headers.
  const push = (headers: string, version = '1.1') =>
    `POST /v1/logs/acme/push HTTP/${version}\r\nHost: x\r\n${headers}Content-Length: 2\r\nConnection: close\r\n\r\n{}`;
  const cases: [string, string, number][] = [
    ['GET /health, Connection: close', 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 200],
    ['GET /health over HTTP/1.0', 'GET /health HTTP/1.0\r\nHost: x\r\n\r\n', 200],
    ['a push refused 415 (text/plain)', push('Authorization: Bearer t\r\nContent-Type: text/plain\r\n'), 415],
    ['a push refused 401 (no token)', push('Content-Type: application/json\r\n'), 401],
    ['a push refused 415 over HTTP/1.0', push('Authorization: Bearer t\r\nContent-Type: text/plain\r\n', '1.0'), 415],
  ];

  it('the reply says connection: close and the server closes the connection at once, not after the keep-alive timeout', async () => {
    const { url } = await start({ auth: { tokens: { t: { id: 't', read: '*', write: '*' } } } });
    for (const [what, request, status] of cases) {
      const { reply, closedByServer } = await rawExchangeUntilClosed(url, request);
      const parsed = parseRaw(reply);
      expect(parsed.status, what).toBe(status);
      expect(parsed.headers.connection, what).toBe('close');
      expect(closedByServer, what).toBe(true);
    }
  }, 30_000);
});

describe('HTTP: auth', () => {
  let url: string;
  const tokens = {
    'writer-token': { id: 'writer', read: ['acme'], write: ['acme'] },
    'reader-token': { id: 'reader', read: ['acme', 'tenant-*'] as string[], write: [] as string[] },
    'admin-token': { id: 'admin', read: '*' as const, write: '*' as const },
  };
  beforeAll(async () => {
    ({ url } = await start({ auth: { tokens } }));
  });

  it('401 without credentials, with an unknown token, with a malformed header: each says why', async () => {
    const push = new TestClient('c').next(['a']);
    const none = await httpPush(url, 'acme', push);
    expect(errorOf(none)).toMatchObject({ status: 401, code: 'UNAUTHORIZED', details: { reason: 'missing-token' } });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(errorOf(await httpPush(url, 'acme', push, 'wrong'))).toMatchObject({ status: 401, details: { reason: 'invalid-token' } });
    const malformed = await httpJson(`${url}/v1/logs/acme/pull?after=0`, { headers: { authorization: 'Basic abc' } });
    expect(errorOf(malformed)).toMatchObject({ status: 401, details: { reason: 'malformed-authorization' } });
    expect((await httpPull(url, 'acme', { after: 0 }, 'writer-token')).status).toBe(200);
  });

  it('403 when the principal may not read or write that log, naming the log and the access it lacks', async () => {
    const log = 'acme';
    const denied = await httpPush(url, log, new TestClient('r').next(['a']), 'reader-token');
    expect(errorOf(denied)).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
      details: { log, need: 'write', principal: 'reader', reason: 'no-write-access' },
    });
    expect(errorOf(await httpPull(url, 'globex', { after: 0 }, 'writer-token'))).toMatchObject({
      status: 403,
      details: { log: 'globex', need: 'read' },
    });
    expect((await httpPull(url, 'tenant-42', { after: 0 }, 'reader-token')).status).toBe(200); // prefix grant
    okPush(await httpPush(url, freshLog('any'), new TestClient('adm').next(['a']), 'admin-token'));
    expect(await store.clientSeq(log, 'r')).toBe(0);
  });

  it('?token= works where headers cannot be set (pull, WebSocket)', async () => {
    expect((await httpJson(`${url}/v1/logs/acme/pull?after=0&token=reader-token`)).status).toBe(200);
    const live = await openLive(url, 'acme', { token: 'reader-token' });
    expect((await live.next()).type).toBe('hello');
    await live.close();
    const viaHeader = await openLive(url, 'acme', { token: 'reader-token', header: true });
    expect((await viaHeader.next()).type).toBe('hello');
    await viaHeader.close();
  });

  it('the live channel refuses the upgrade with 401 / 403 and an error body', async () => {
    await expect(openLive(url, 'acme')).rejects.toMatchObject({ status: 401 });
    const refused = await openLive(url, 'globex', { token: 'writer-token' }).catch((e: { status: number; body: string }) => e);
    expect(refused).toMatchObject({ status: 403 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ error: { code: 'FORBIDDEN', details: { log: 'globex' } } });
  });

  it('a custom authenticate hook decides the principal', async () => {
    const { url: hooked } = await start({
      auth: (request) => (request.headers['x-user'] === 'alice' ? { id: 'alice', read: ['alice-log'], write: ['alice-log'] } : null),
    });
    const push = new TestClient('alice-device').next(['a']);
    expect(errorOf(await httpPush(hooked, 'alice-log', push))).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    const ok = await httpJson(`${hooked}/v1/logs/alice-log/push`, {
      method: 'POST',
      headers: { 'x-user': 'alice', 'content-type': 'application/json' },
      body: JSON.stringify(push),
    });
    okPush(ok);
  });
});

describe('HTTP: auth that is set up wrong, slow or hostile', () => {
  const otherLog = 'tenant-secret';
  /** A logger that keeps the messages of error lines. */
  const recording = () => {
    const errors: string[] = [];
    return {
      errors,
      logger: {
        ...silentLogger,
        error: (message: string, fields?: Record<string, unknown>) => void errors.push(`${message} ${JSON.stringify(fields ?? {})}`),
      },
    };
  };

  it('tokens given in code are checked as a tokens file is: a grant written as a string is refused at start', () => {
    expect(() =>
      createSyncServer({
        store,
        closeStore: false,
        logger: silentLogger,
        auth: { tokens: { t: { read: 'shop-*' as unknown as string[] } } },
      }),
    ).toThrow(/read must be "\*" or an array of log names/);
  });

  it('a hook whose principal has a grant written as a string, or that returns no principal at all, gets 500 (logged, saying what is wrong), never access', async () => {
    const log = freshLog('shop');
    const answers: Record<string, unknown> = {
      'string-grant': { id: 'x', read: 'shop-*', write: 'shop-*' },
      number: 42,
      'no-id': { read: '*', write: '*' },
      'null-grant': { id: 'y', read: null, write: [] },
    };
    const { errors, logger } = recording();
    // The case comes in a header, or as ?token= where headers cannot be set (the live channel).
    const caseOf = (request: IncomingMessage) => String(request.headers['x-case'] ?? requestToken(request));
    const { url } = await start({ logger, auth: (request) => answers[caseOf(request)] as null });
    for (const name of Object.keys(answers)) {
      const headers = { 'x-case': name };
      const pull = await httpJson(`${url}/v1/logs/${otherLog}/pull?after=0`, { headers });
      expect(errorOf(pull), name).toMatchObject({ status: 500, code: 'INTERNAL' });
      const push = await httpJson(`${url}/v1/logs/${log}/push`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(new TestClient(`c-${name}`).next(['a'])),
      });
      expect(errorOf(push), name).toMatchObject({ status: 500 });
      expect((await httpJson(`${url}/metrics`, { headers })).status, name).toBe(500);
      await expect(openLive(url, otherLog, { token: name }), name).rejects.toMatchObject({ status: 500 });
    }
    expect(await store.head(log)).toBe(0);
    expect(errors.some((line) => line.includes('whose read is the string \\"shop-*\\"'))).toBe(true);
    expect(errors.some((line) => line.includes('returned number 42, not a principal'))).toBe(true);
  });

  it('a hook that answers false (or another falsy value) gives 401; a principal without a write grant may read and not write', async () => {
    const answers: Record<string, unknown> = { false: false, empty: '', zero: 0, reader: { id: 'reader', read: ['shop-1'] } };
    const { url } = await start({ auth: (request) => answers[String(request.headers['x-case'])] as null });
    for (const name of ['false', 'empty', 'zero']) {
      const reply = await httpJson(`${url}/v1/logs/shop-1/pull?after=0`, { headers: { 'x-case': name } });
      expect(errorOf(reply), name).toMatchObject({ status: 401, details: { reason: 'unauthenticated' } });
    }
    const headers = { 'x-case': 'reader' };
    expect((await httpJson(`${url}/v1/logs/shop-1/pull?after=0`, { headers })).status).toBe(200);
    const push = await httpJson(`${url}/v1/logs/shop-1/push`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(new TestClient('reader-device').next(['a'])),
    });
    expect(errorOf(push)).toMatchObject({ status: 403, details: { reason: 'no-write-access' } });
  });

  it('a hook that throws a SyncError with a code the protocol does not know, or details that are not JSON, gets 500 and the server lives on', async () => {
    const { url } = await start({
      auth: (request) => {
        if (request.headers['x-case'] === 'code') throw new SyncError('NOPE' as 'UNAUTHORIZED', 'bad code');
        throw new SyncError('UNAUTHORIZED', 'big', { n: 10n as unknown as number });
      },
    });
    for (const name of ['code', 'bigint']) {
      expect(errorOf(await httpJson(`${url}/v1/logs/a/pull?after=0`, { headers: { 'x-case': name } })), name).toMatchObject({
        status: 500,
      });
      const refused = await openLive(url, 'a', {}).catch((e: { status: number }) => e);
      expect(refused, name).toMatchObject({ status: 500 });
    }
    expect((await httpJson(`${url}/health`)).status).toBe(200);
  });

  it("a hook's own reason for a 401 is in the reply's details", async () => {
    const { url } = await start({
      auth: () => {
        throw new SyncError('UNAUTHORIZED', 'The session expired; sign in again', { reason: 'session-expired' });
      },
    });
    expect(errorOf(await httpJson(`${url}/v1/logs/a/pull?after=0`))).toMatchObject({
      status: 401,
      message: 'The session expired; sign in again',
      details: { reason: 'session-expired' },
    });
  });

  it('a hook that never answers gets 503 auth-timeout after timeouts.authMs, for requests and live upgrades', async () => {
    const { url } = await start({ auth: () => new Promise<null>(() => undefined), timeouts: { authMs: 150 } });
    expect(errorOf(await httpJson(`${url}/v1/logs/a/pull?after=0`))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      details: { reason: 'auth-timeout', timeoutMs: 150 },
    });
    await expect(openLive(url, 'a', {})).rejects.toMatchObject({ status: 503 });
  });

  it('a request line with a whole URL and no credentials is 401, whatever its host part', async () => {
    const { url } = await start({ auth: { tokens: { t: { read: '*', write: '*' } } } });
    for (const target of ['http://h:99999/v1/logs/a/pull?after=0', 'http://[zz]/v1/logs/a/pull?after=0']) {
      const reply = parseRaw(await rawExchange(url, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      expect(reply, target).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED', details: { reason: 'missing-token' } } } });
    }
    // ?token= is read from such a request line too.
    const reply = parseRaw(
      await rawExchange(url, `GET http://h:99999/v1/logs/a/pull?after=0&token=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    expect(reply.status).toBe(200);
  });

  it("refused credentials spend the address's request budget (429 once spent), and so do 403s; a valid token is not held up by them", async () => {
    const { url } = await start({
      auth: { tokens: { good: { id: 'good', read: ['mine'], write: ['mine'] }, probe: { id: 'probe', read: ['mine'], write: [] } } },
      limits: { rateLimit: { burst: 3, perSecond: 0.001 } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await httpPull(url, 'mine', { after: 0 }, `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await httpPull(url, 'mine', { after: 0 }, 'good')).status).toBe(200);
    const probes: number[] = [];
    for (let i = 0; i < 4; i++) probes.push((await httpPull(url, `other-${i}`, { after: 0 }, 'probe')).status);
    expect(probes).toEqual([403, 403, 403, 429]);
  });

  it("behind a proxy, refusals are counted per the server's rateLimitKey: one client's bad tokens do not turn another's 401 into 429", async () => {
    const { url } = await start({
      auth: { tokens: { good: { id: 'good', read: ['mine'], write: ['mine'] } } },
      limits: { rateLimit: { burst: 3, perSecond: 0.001 } },
      // Every request comes from the proxy's address; the client's is in x-forwarded-for.
      rateLimitKey: (request, principal) =>
        principal.id === 'anonymous' ? `client:${String(request.headers['x-forwarded-for'])}` : `principal:${principal.id}`,
    });
    const pull = (token: string, client: string) =>
      httpJson(`${url}/v1/logs/mine/pull?after=0`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } });
    const guesses: number[] = [];
    for (let i = 0; i < 4; i++) guesses.push((await pull(`guess-${i}`, '10.0.0.1')).status);
    expect(guesses).toEqual([401, 401, 401, 429]);
    expect(errorOf(await pull('expired', '10.0.0.2'))).toMatchObject({ status: 401, details: { reason: 'invalid-token' } });
  });
});

describe('HTTP: limits', () => {
  let url: string;
  const maxRequestBytes = 64 * 1024;
  beforeAll(async () => {
    ({ url } = await start({ limits: { maxEventsPerPush: 5, maxEventBytes: 2000, maxRequestBytes, rateLimit: false } }));
  });

  it('413 for too many events in a push', async () => {
    const log = freshLog();
    const reply = await httpPush(url, log, new TestClient('many').next(['a', 'b', 'c', 'd', 'e', 'f']));
    expect(errorOf(reply)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', details: { what: 'events', count: 6, limit: 5 } });
    await expectUnchanged(url, log, 'many', 0, 0);
  });

  it('413 for an event over the byte limit, naming it', async () => {
    const log = freshLog();
    const push = new TestClient('fat').next(['a', 'b']);
    push.events[1]!.data = { blob: 'x'.repeat(3000) };
    expect(errorOf(await httpPush(url, log, push))).toMatchObject({
      status: 413,
      details: { what: 'event', index: 1, id: 'fat:2', limit: 2000 },
    });
    await expectUnchanged(url, log, 'fat', 0, 0);
  });

  it('413 for a body declared larger than the limit, answered before the body is sent', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${url}/v1/logs/big/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"protocolVersion":1'); // and nothing more: the server must not wait for 50 MiB
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { what: 'request' } } });
  });

  it('413 for a chunked body that grows past the limit, before it ends', async () => {
    const reply = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      const req = httpRequest(`${url}/v1/logs/big/push`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      let sent = 0;
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
      });
      req.on('error', (error) => (answered ? undefined : reject(error)));
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        // Keep sending, never end(): only an early answer can stop this.
        if (answered || sent > 100 * maxRequestBytes) return;
        sent += chunk.length;
        if (req.write(chunk)) setImmediate(pump);
        else req.once('drain', pump);
      };
      pump();
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('pull pages are capped at the server limit, with hasMore', async () => {
    const { url: small } = await start({ limits: { maxPullLimit: 2, rateLimit: false } });
    const log = freshLog();
    okPush(await httpPush(small, log, new TestClient('p').next(['a', 'b', 'c'])));
    const page = okPull(await httpPull(small, log, { after: 0, limit: 1000 }));
    expect(page.events).toHaveLength(2);
    expect(page.hasMore).toBe(true);
  });
});

describe('HTTP: rate limit', () => {
  it('429 RATE_LIMITED with Retry-After once a client has spent its burst; other clients are not affected', async () => {
    const { url } = await start({
      auth: { tokens: { 'token-a': { id: 'a', read: '*', write: '*' }, 'token-b': { id: 'b', read: '*', write: '*' } } },
      limits: { rateLimit: { burst: 3, perSecond: 0.001 } },
    });
    const log = freshLog();
    for (let i = 0; i < 3; i++) expect((await httpPull(url, log, { after: 0 }, 'token-a')).status).toBe(200);
    const limited = await httpPull(url, log, { after: 0 }, 'token-a');
    expect(errorOf(limited)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(errorOf(await httpPush(url, log, new TestClient('a').next(['x']), 'token-a'))).toMatchObject({ status: 429 });
    expect((await httpPull(url, log, { after: 0 }, 'token-b')).status).toBe(200);
    expect(await store.head(log)).toBe(0);
  });
});

describe('HTTP: store failures and shutdown', () => {
  it('an unexpected store failure is 500 INTERNAL without internals; an unreachable store makes /ready 503', async () => {
    const broken: LogStore = {
      ...store,
      kind: 'broken',
      push: () => Promise.reject(new Error('disk on fire at /secret/path')),
      ping: () => Promise.reject(new Error('connection refused')),
      close: () => Promise.resolve(),
      watch: () => () => undefined,
    };
    const { url } = await start({ store: broken });
    const reply = await httpPush(url, freshLog(), new TestClient('c').next(['a']));
    expect(errorOf(reply)).toMatchObject({ status: 500, code: 'INTERNAL', message: 'Internal server error' });
    expect(JSON.stringify(reply.body)).not.toContain('secret');
    expect(errorOf(await httpJson(`${url}/ready`))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      details: { reason: 'store-unreachable' },
    });
    expect((await httpJson(`${url}/health`)).status).toBe(200);
  });

  it('graceful close: a push in flight finishes and is stored; new requests are refused; live sockets are closed', async () => {
    let entered!: () => void;
    const inPush = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: LogStore = {
      ...store,
      push: async (log, push) => {
        entered();
        await gate;
        return store.push(log, push);
      },
      head: (log) => store.head(log),
      watch: (h, r) => store.watch(h, r),
      close: () => Promise.resolve(),
    };
    const { url, server } = await start({ store: slow });
    const log = freshLog();
    const live = await openLive(url, log);
    await live.next();
    const liveClosed = new Promise<number>((r) => live.ws.once('close', (code) => r(code)));

    const inFlight = httpPush(url, log, new TestClient('slow').next(['a', 'b']));
    await inPush;
    const closed = server.close();
    // Requests already on their way when close() was called are still served (see the drain suite);
    // one sent a few event-loop turns later is new.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    const refused = await httpPull(url, log, { after: 0 }).then(
      (r) => r.status,
      () => 'connection refused',
    );
    expect(refused === 503 || refused === 'connection refused').toBe(true);
    release();
    const reply = await inFlight;
    expect(okPush(reply).positions.map((p) => p.position)).toEqual([1, 2]);
    await closed;
    expect(await liveClosed).toBe(1001);
    expect(await store.head(log)).toBe(2);
  });
});

describe('live channel', () => {
  it('hello carries the head; every push that moves it is announced; duplicates are not', async () => {
    const { url } = await start();
    const log = freshLog();
    const client = new TestClient('live');
    okPush(await httpPush(url, log, client.next(['a'])));
    const live = await openLive(url, log);
    expect(await live.next()).toEqual({ type: 'hello', protocolVersion: PROTOCOL_VERSION, head: 1 });
    const range = client.next(['a', 'b']);
    okPush(await httpPush(url, log, range));
    expect(await live.next()).toEqual({ type: 'head', head: 3 });
    okPush(await httpPush(url, log, range)); // duplicate: head unchanged
    okPush(await httpPush(url, log, client.next(['c'])));
    expect(await live.next()).toEqual({ type: 'head', head: 4 });
    // Other logs are not announced on this socket.
    okPush(await httpPush(url, freshLog(), new TestClient('elsewhere').next(['z'])));
    okPush(await httpPush(url, log, client.next(['c'])));
    expect(await live.next()).toEqual({ type: 'head', head: 5 });
    await live.close();
  });

  it('an unknown WebSocket path is refused with 404', async () => {
    const { url } = await start();
    await expect(openLive(url, '../x')).rejects.toBeDefined();
    const ws = await import('ws');
    const refused = await new Promise<number>((resolve) => {
      const socket = new ws.WebSocket(`${url.replace('http', 'ws')}/v1/elsewhere`);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => undefined);
    });
    expect(refused).toBe(404);
  });
});
