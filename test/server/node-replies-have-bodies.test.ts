import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { rawExchange } from './raw-http.ts';

/**
 * docs/protocol.md, Conventions: every non-2xx reply has the protocol's error body, including the
 * ones Node would otherwise answer with a bare status line, and every reply carries x-request-id.
 * Two such replies Node makes by itself: the 400 for an HTTP/1.1 request without a Host header, and
 * the 417 for an Expect other than 100-continue (which the server may ignore: RFC 9110, 10.1.1).
 */
let store: LogStore;
let server: SyncServer;
let url: string;
let guarded: SyncServer;
let guardedUrl: string;

beforeAll(async () => {
  store = await createPgliteStore();
  server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false } });
  url = (await server.listen(0)).url;
  guarded = createSyncServer({ store, logger: silentLogger, closeStore: false, auth: { tokens: { s3cret: { read: '*' } } } });
  guardedUrl = (await guarded.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  await guarded.close();
  await store.close();
});

const errorBody = (json: unknown): unknown => (json as { error?: unknown } | undefined)?.error;
const withExpect = 'GET /v1/logs/s/pull?after=0 HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n';

describe("replies Node makes itself carry the protocol's error body", () => {
  it('an HTTP/1.1 request without a Host header: 400 BAD_REQUEST with the error body and x-request-id', async () => {
    const reply = await rawExchange(url, 'GET /v1/logs/s/pull?after=0 HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(reply.headers['x-request-id']).toBeTruthy();
    expect(errorBody(reply.json)).toMatchObject({ code: 'BAD_REQUEST', details: { reason: 'missing-host' } });
  });

  it('a request with an Expect the server does not meet is served as any other: auth first, then the route', async () => {
    const reply = await rawExchange(url, withExpect);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-id']).toBeTruthy();
    expect(reply.json).toMatchObject({ head: 0, events: [] });
    const refused = await rawExchange(guardedUrl, withExpect);
    expect(refused.status).toBe(401);
    expect(errorBody(refused.json)).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
