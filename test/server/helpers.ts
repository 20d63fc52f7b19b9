import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  errorBodySchema,
  liveMessageSchema,
  PROTOCOL_VERSION,
  pullResponseSchema,
  pushResponseSchema,
  type ErrorBody,
  type LiveMessage,
  type PullResponse,
  type PushRequest,
  type PushResponse,
} from '../../src/core/protocol.ts';
import { SyncError } from '../../src/server/errors.ts';
import {
  createPgliteStore,
  createSyncServer,
  silentLogger,
  type LogStore,
  type SyncServer,
  type SyncServerOptions,
} from '../../src/server/index.ts';

export type PushEvent = PushRequest['events'][number];

/** Base URL of the test PostgreSQL server (trust auth); each suite makes and drops its own database on it. */
export const PG_BASE_URL = process.env.CHRONICLE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

/** Whether something accepts TCP connections where PG_BASE_URL points (1 s at most). */
function probe(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 5432) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether the test PostgreSQL answers; probed once per test file. */
export const PG_AVAILABLE: boolean = await probe(PG_BASE_URL);

/**
 * A describe block that needs PostgreSQL at PG_BASE_URL. Without it the suite
 * is skipped with a visible notice on a developer's machine, and fails in CI
 * (CI=true), where a missing database is a broken pipeline, not a reason to
 * pass.
 */
export function describePg(name: string, body: () => void): void {
  if (PG_AVAILABLE) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(
          `No PostgreSQL answers at ${PG_BASE_URL} (CI=true: PostgreSQL suites must run). Set CHRONICLE_TEST_PG_URL or start PostgreSQL.`,
        );
      });
    });
    return;
  }
  console.warn(
    `\n[chronicle] SKIPPED "${name}": no PostgreSQL answers at ${PG_BASE_URL} (set CHRONICLE_TEST_PG_URL, or start one; CI=true makes this a failure)\n`,
  );
  describe.skip(name, body);
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates a database with a random name (through the `postgres` database). drop() removes it, closing what still uses it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `chronicle_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: `${PG_BASE_URL}/${name}`,
    async drop() {
      const client = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

let unique = 0;
/** A log name no other test uses. */
export function freshLog(prefix = 'log'): string {
  unique++;
  return `${prefix}-${Date.now().toString(36)}-${unique}-${Math.random().toString(36).slice(2, 6)}`;
}

/** What a refused store call throws (a SyncError); fails the test when the call was served. */
export async function refusal(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    return error as SyncError;
  }
  throw new Error('expected a refusal, but the call was served');
}

export function makeEvent(e: {
  clientId: string;
  clientSeq: number;
  aggregateId: string;
  seq: number;
  id?: string;
  type?: string;
  data?: unknown;
}): PushEvent {
  return {
    id: e.id ?? `${e.clientId}:${e.clientSeq}`,
    aggregateId: e.aggregateId,
    aggregateType: 'Order',
    seq: e.seq,
    type: e.type ?? 'ItemAdded',
    version: 1,
    data: e.data ?? { n: e.clientSeq },
    meta: { occurredAt: 1_700_000_000_000 + e.clientSeq, clientId: e.clientId, clientSeq: e.clientSeq },
  };
}

export function makePush(clientId: string, from: number, events: PushEvent[]): PushRequest {
  return { protocolVersion: PROTOCOL_VERSION, clientId, from, to: from + events.length - 1, events };
}

/**
 * A client that writes to aggregates and tracks its clientSeq and the seqs it
 * believes each aggregate is at, the way the browser engine does.
 */
export class TestClient {
  nextClientSeq = 1;
  readonly seqs = new Map<string, number>();
  constructor(readonly clientId: string) {}

  /** The next push: one event per aggregate id listed, in order. */
  next(aggregateIds: string[]): PushRequest {
    const from = this.nextClientSeq;
    const events = aggregateIds.map((aggregateId, i) => {
      const seq = (this.seqs.get(aggregateId) ?? 0) + 1;
      this.seqs.set(aggregateId, seq);
      return makeEvent({ clientId: this.clientId, clientSeq: from + i, aggregateId, seq });
    });
    this.nextClientSeq += events.length;
    return makePush(this.clientId, from, events);
  }
}

export interface HttpReply<T> {
  status: number;
  headers: Headers;
  body: T;
}

export async function httpJson(url: string, init: RequestInit = {}): Promise<HttpReply<unknown>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body };
}

export function authHeaders(token?: string): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function httpPush(base: string, log: string, push: unknown, token?: string): Promise<HttpReply<unknown>> {
  return httpJson(`${base}/v1/logs/${log}/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(token) },
    body: typeof push === 'string' ? push : JSON.stringify(push),
  });
}

export async function httpPull(
  base: string,
  log: string,
  query: { after: number; limit?: number; clientId?: string },
  token?: string,
): Promise<HttpReply<unknown>> {
  const params = new URLSearchParams({ after: String(query.after) });
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.clientId !== undefined) params.set('clientId', query.clientId);
  return httpJson(`${base}/v1/logs/${log}/pull?${params}`, { headers: authHeaders(token) });
}

export function okPush(reply: HttpReply<unknown>): PushResponse {
  if (reply.status !== 200) throw new Error(`push failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return pushResponseSchema.parse(reply.body);
}

export function okPull(reply: HttpReply<unknown>): PullResponse {
  if (reply.status !== 200) throw new Error(`pull failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return pullResponseSchema.parse(reply.body);
}

/** Asserts the reply is a protocol error with this code; returns its body. */
export function errorOf(reply: HttpReply<unknown>): ErrorBody['error'] & { status: number } {
  const parsed = errorBodySchema.safeParse(reply.body);
  if (!parsed.success) throw new Error(`not an error body: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { ...parsed.data.error, status: reply.status };
}

/** Pulls every event after `after`, page by page. */
export async function pullAll(base: string, log: string, after = 0, token?: string): Promise<PullResponse['events']> {
  const out: PullResponse['events'] = [];
  let cursor = after;
  for (;;) {
    const page = okPull(await httpPull(base, log, { after: cursor, limit: 1000 }, token));
    out.push(...page.events);
    if (page.events.length) cursor = page.events[page.events.length - 1]!.position;
    if (!page.hasMore) return out;
  }
}

/** The value of one sample line of a Prometheus exposition (`name{labels} value`), or undefined when there is none. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** A WebSocket on the live channel that queues what it receives; `next` waits for the next message. */
export interface LiveClient {
  ws: WebSocket;
  messages: LiveMessage[];
  next(): Promise<LiveMessage>;
  /** Waits until a message reports a head >= target. */
  untilHead(target: number): Promise<number>;
  close(): Promise<void>;
}

export function openLive(base: string, log: string, opts: { token?: string; header?: boolean } = {}): Promise<LiveClient> {
  const url = new URL(`${base.replace(/^http/, 'ws')}/v1/logs/${log}/live`);
  const headers: Record<string, string> = {};
  if (opts.token && opts.header) headers.authorization = `Bearer ${opts.token}`;
  else if (opts.token) url.searchParams.set('token', opts.token);
  const ws = new WebSocket(url, { headers });
  const messages: LiveMessage[] = [];
  const waiters: ((m: LiveMessage) => void)[] = [];
  let read = 0;
  ws.on('message', (data) => {
    const message = liveMessageSchema.parse(JSON.parse(String(data)));
    messages.push(message);
    const w = waiters.shift();
    if (w) {
      read++;
      w(message);
    }
  });
  const client: LiveClient = {
    ws,
    messages,
    next() {
      if (read < messages.length) return Promise.resolve(messages[read++]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
    async untilHead(target) {
      for (;;) {
        const m = await client.next();
        if (m.head >= target) return m.head;
      }
    },
    close() {
      return new Promise((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

/**
 * A sync server on an in-memory PGlite store for one test file: started
 * before its tests, closed after them. `url` is set once it listens.
 */
export function pgliteServerForFile(options: Partial<SyncServerOptions> = {}): { url: string } {
  const served = { url: '' };
  let store: LogStore | undefined;
  let server: SyncServer | undefined;
  beforeAll(async () => {
    store = await createPgliteStore();
    server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false }, ...options });
    served.url = (await server.listen(0)).url;
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
  });
  return served;
}

/** A store for a server whose routes under test never read it: the live hub's start, a hello's head (0), /health. */
export function unreadStore(): LogStore {
  return {
    kind: 'fake',
    watch: () => () => undefined,
    head: () => Promise.resolve(0),
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  } as unknown as LogStore;
}
