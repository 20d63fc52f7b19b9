import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createJsonLogger,
  createPgliteStore,
  createPostgresStore,
  createSyncServer,
  silentLogger,
  type LogStore,
  type SyncServer,
} from '../../src/server/index.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { rawExchange } from './raw-http.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpJson,
  httpPull,
  httpPush,
  okPush,
  openLive,
  sample,
  TestClient,
  type TestDatabase,
} from './helpers.ts';

/** Issue 10, point 9: /metrics in Prometheus' text format, and structured logs with a request id. */

let store: LogStore;
const servers: SyncServer[] = [];
async function start(options: Partial<Parameters<typeof createSyncServer>[0]> = {}): Promise<string> {
  const server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false }, ...options });
  servers.push(server);
  return (await server.listen(0)).url;
}
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store.close();
});

describe('GET /metrics', () => {
  it('pushes and events by result and code, latency histograms, live sockets and log heads, in Prometheus text', async () => {
    const url = await start();
    const log = freshLog('metrics');
    const client = new TestClient('m');
    okPush(await httpPush(url, log, client.next(['o', 'o', 'p'])));
    const range = client.next(['o']);
    okPush(await httpPush(url, log, range));
    okPush(await httpPush(url, log, range)); // a retry: 1 duplicate
    // Refused: a seq conflict (2 events) and a bad request.
    expect(errorOf(await httpPush(url, log, new TestClient('late').next(['o', 'q']))).code).toBe('SEQ_CONFLICT');
    expect(errorOf(await httpPush(url, log, '{"protocolVersion":2}')).code).toBe('BAD_REQUEST');
    expect((await httpPull(url, log, { after: 0 })).status).toBe(200);
    const live = await openLive(url, log);
    await live.next();

    const reply = await fetch(`${url}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await reply.text();
    expect(text).toMatch(/# TYPE chronicle_pushes_total counter/);
    expect(sample(text, 'chronicle_pushes_total{result="accepted",code="OK"}')).toBe(3);
    expect(sample(text, 'chronicle_pushes_total{result="refused",code="SEQ_CONFLICT"}')).toBe(1);
    expect(sample(text, 'chronicle_pushes_total{result="refused",code="BAD_REQUEST"}')).toBe(1);
    expect(sample(text, 'chronicle_push_events_total{result="stored",code="OK"}')).toBe(4);
    expect(sample(text, 'chronicle_push_events_total{result="duplicate",code="OK"}')).toBe(1);
    expect(sample(text, 'chronicle_push_events_total{result="refused",code="SEQ_CONFLICT"}')).toBe(2);
    expect(text).toMatch(/# TYPE chronicle_push_duration_seconds histogram/);
    expect(sample(text, 'chronicle_push_duration_seconds_count{result="accepted"}')).toBe(3);
    expect(sample(text, 'chronicle_push_duration_seconds_bucket{le="+Inf",result="accepted"}')).toBe(3);
    expect(sample(text, 'chronicle_pull_duration_seconds_count{result="accepted"}')).toBe(1);
    expect(sample(text, 'chronicle_pulls_total{result="accepted",code="OK"}')).toBe(1);
    expect(sample(text, 'chronicle_live_sockets')).toBe(1);
    expect(sample(text, `chronicle_log_head{log="${log}"}`)).toBe(4);
    expect(sample(text, 'chronicle_db_errors_total')).toBe(0);
    expect(text).toMatch(/^chronicle_process_resident_memory_bytes \d+/m);
    await live.close();
    // A scrape is counted with its own status (it was counted as status "0").
    const again = await (await fetch(`${url}/metrics`)).text();
    expect(sample(again, 'chronicle_http_requests_total{action="metrics",status="200"}')).toBe(1);
    expect(again).not.toMatch(/action="metrics",status="0"/);
  });

  it('with auth configured, /metrics needs a principal that may read every log', async () => {
    const url = await start({
      auth: {
        tokens: {
          admin: { read: '*', write: '*' },
          // Every log as a list: grants() reads ['*'] as every log, and so does /metrics.
          ops: { read: ['*'], write: [] },
          tenant: { read: ['acme'], write: ['acme'] },
          prefixed: { read: ['acme-*'], write: [] },
        },
      },
    });
    expect(errorOf(await httpJson(`${url}/metrics`))).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    for (const token of ['tenant', 'prefixed']) {
      expect(errorOf(await httpJson(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } }))).toMatchObject({
        status: 403,
        code: 'FORBIDDEN',
      });
    }
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer admin' } })).status).toBe(200);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer ops' } })).status).toBe(200);
  });

  it('without prom-client, /metrics is 503 and says which package to install; requests are still served', async () => {
    const metrics = createMetrics(
      { liveSockets: () => 0, storeStats: () => undefined },
      {
        importer: () =>
          Promise.reject(
            Object.assign(new Error("Cannot find package 'prom-client' imported from /app/server.js"), { code: 'ERR_MODULE_NOT_FOUND' }),
          ),
      },
    );
    metrics.request('push', 200, undefined, 0.01, 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await metrics.render()).toEqual({
      unavailable: 'The /metrics endpoint needs the "prom-client" package: npm install prom-client',
    });
  });
});

describePg('GET /metrics on PostgreSQL', () => {
  let db: TestDatabase;
  let pgStore: LogStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    pgStore = await createPostgresStore({ connectionString: db.url, poolSize: 3 });
  });
  afterAll(async () => {
    await pgStore?.close();
    await db?.drop();
  });

  it('the database pool: connections open, idle, waiting and the maximum', async () => {
    const url = await start({ store: pgStore });
    okPush(await httpPush(url, freshLog('pool'), new TestClient('pool').next(['a'])));
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(sample(text, 'chronicle_db_pool_connections{state="max"}')).toBe(3);
    expect(sample(text, 'chronicle_db_pool_connections{state="total"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'chronicle_db_pool_connections{state="waiting"}')).toBe(0);
    expect(sample(text, 'chronicle_db_errors_total')).toBe(0);
  });
});

describe('request ids and structured logs', () => {
  it("every reply carries x-request-id (the caller's own when it sent a sane one); a refused request is logged as JSON with it", async () => {
    const lines: string[] = [];
    const url = await start({ logger: createJsonLogger((line) => lines.push(line)) });
    const log = freshLog('ids');
    const ok = await httpPush(url, log, new TestClient('ids').next(['a']));
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const given = await httpJson(`${url}/v1/logs/${log}/pull?after=0`, { headers: { 'x-request-id': 'trace-42.abc' } });
    expect(given.headers.get('x-request-id')).toBe('trace-42.abc');
    const insane = await httpJson(`${url}/health`, { headers: { 'x-request-id': 'a b"c' } });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const refused = await httpJson(`${url}/v1/logs/${log}/pull?after=x`, { headers: { 'x-request-id': 'bad-pull-1' } });
    expect(refused.status).toBe(400);
    await new Promise((resolve) => setImmediate(resolve));
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'info',
        msg: 'request refused',
        requestId: 'bad-pull-1',
        action: 'pull',
        log,
        status: 400,
        code: 'BAD_REQUEST',
      }),
    );
    for (const entry of entries) expect(typeof entry.time).toBe('string');
    // Accepted requests are not logged unless accessLog is on.
    expect(entries.some((e) => e.status === 200)).toBe(false);
  });

  it('replies written straight to the socket (unparsable HTTP, refused WebSocket upgrades) carry an id too, and are logged and counted', async () => {
    const lines: string[] = [];
    const url = await start({
      logger: createJsonLogger((line) => lines.push(line)),
      auth: { tokens: { reader: { read: '*', write: [] } } },
    });
    const upgrade = (path: string, extra = '') =>
      rawExchange(
        url,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
      );
    const log = freshLog('raw');
    const noToken = await upgrade(`/v1/logs/${log}/live`, 'x-request-id: live-no-token\r\n');
    const notLive = await upgrade(`/v1/logs/${log}/push`);
    const tooLarge = await rawExchange(url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(64 * 1024)}\r\n\r\n`);
    expect([noToken.status, notLive.status, tooLarge.status]).toEqual([401, 404, 431]);
    expect(noToken.headers['x-request-id']).toBe('live-no-token');
    expect(notLive.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(tooLarge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    await new Promise((resolve) => setTimeout(resolve, 50));
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        msg: 'request refused',
        requestId: 'live-no-token',
        action: 'live',
        log,
        status: 401,
        code: 'UNAUTHORIZED',
        reason: 'missing-token',
      }),
    );
    // A 4xx's message is the client's business (it got it); a 5xx's goes in the operator's log line.
    expect(entries.find((e) => e.requestId === 'live-no-token')).not.toHaveProperty('message');
    expect(entries).toContainEqual(
      expect.objectContaining({ msg: 'request refused', requestId: notLive.headers['x-request-id'], status: 404, code: 'NOT_FOUND' }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        msg: 'request refused',
        requestId: tooLarge.headers['x-request-id'],
        status: 431,
        code: 'HEADERS_TOO_LARGE',
      }),
    );
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer reader' } })).text();
    expect(sample(text, 'chronicle_http_requests_total{action="live",status="401"}')).toBe(1);
    expect(sample(text, 'chronicle_http_requests_total{action="other",status="431"}')).toBe(1);
  });
});
