import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { errorOf, freshLog, httpJson, httpPull, okPush, TestClient } from './helpers.ts';

/**
 * Issue 10, point 5 (an oversize body's 413 reaches the client) and point 7
 * (SIGTERM drain: requests already received are finished; later ones get 503;
 * /health says shutting-down).
 */

let store: LogStore;
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await store.close();
});

async function start(options: Partial<Parameters<typeof createSyncServer>[0]> = {}): Promise<{ url: string; server: SyncServer }> {
  const server = createSyncServer({ store, logger: silentLogger, closeStore: false, limits: { rateLimit: false }, ...options });
  return { url: (await server.listen(0)).url, server };
}

/**
 * A client that sends its whole request before it reads anything, as curl
 * does: it stops reading its socket until the body is written. If the server
 * closes its end with the body still arriving, the kernel resets the
 * connection and the client sees EPIPE or ECONNRESET, never the 413 it was sent.
 */
function sendThenRead(url: string, path: string, size: number, chunked = false): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.pause();
    let out = '';
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('end', () => resolve(out));
    const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`;
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n${framing}\r\n\r\n`);
    const body = Buffer.alloc(size, 0x20);
    const data = chunked ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
    socket.write(data, () => socket.resume());
  });
}

describe('oversize bodies: the 413 reaches every client', () => {
  let url: string;
  let server: SyncServer;
  beforeAll(async () => {
    ({ url, server } = await start({ limits: { maxRequestBytes: 64 * 1024, rateLimit: false } }));
  });
  afterAll(() => server.close());

  for (const chunked of [false, true]) {
    it(`12 clients each sending a 4 MiB ${chunked ? 'chunked ' : ''}body before reading: all get 413 with the error body, none a reset`, async () => {
      const replies = await Promise.all(
        Array.from({ length: 12 }, () => sendThenRead(url, `/v1/logs/${freshLog('big')}/push`, 4 * 1024 * 1024, chunked)),
      );
      for (const reply of replies) {
        expect(reply.slice(0, 40)).toMatch(/^HTTP\/1\.1 413/);
        expect(reply).toMatch(/"code":"PAYLOAD_TOO_LARGE"/);
      }
    });
  }

  it('after a 413 whose body was sent in full, the same keep-alive connection serves the next request', async () => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const big = Buffer.alloc(200 * 1024, 0x20);
    const replies = readReplies(socket);
    socket.write(`POST /v1/logs/k/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`);
    socket.write(big);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await replies.next()).toMatch(/^HTTP\/1\.1 413/);
    expect(await replies.next()).toMatch(/^HTTP\/1\.1 200[\s\S]*"status":"ok"/);
    socket.destroy();
  });
});

/** Reads HTTP replies (with content-length) off a socket, one at a time. */
function readReplies(socket: Socket): { next(): Promise<string> } {
  let buffer = '';
  const waiting: ((text: string) => void)[] = [];
  const ready: string[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const reply = buffer.slice(0, end + 4 + length);
      buffer = buffer.slice(end + 4 + length);
      const w = waiting.shift();
      if (w) w(reply);
      else ready.push(reply);
    }
  });
  return {
    next: () => (ready.length ? Promise.resolve(ready.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

/** A store whose pushes wait at a gate, to hold a request in flight. */
function gatedStore(): { store: LogStore; entered: Promise<void>; release: () => void } {
  let entered!: () => void;
  const inPush = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gated: LogStore = {
    ...store,
    push: async (log, push, prepared) => {
      entered();
      await gate;
      return store.push(log, push, prepared);
    },
    pull: (log, query) => store.pull(log, query),
    head: (log) => store.head(log),
    watch: (h, r) => store.watch(h, r),
    close: () => Promise.resolve(),
  };
  return { store: gated, entered: inPush, release };
}

const pushRequest = (log: string, clientId: string): string => {
  const body = JSON.stringify(new TestClient(clientId).next(['a', 'b']));
  return `POST /v1/logs/${log}/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('graceful shutdown (SIGTERM drain)', () => {
  it('a push fully sent on an open keep-alive connection just before close() is finished and stored, not reset', async () => {
    const { url, server } = await start();
    const log = freshLog('drain');
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const replies = readReplies(socket);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await replies.next()).toMatch(/^HTTP\/1\.1 200/); // the connection is open and idle now
    // The push is in the kernel's buffers, not yet read by the server, when close() is called.
    await new Promise<void>((resolve) => socket.write(pushRequest(log, 'late'), () => resolve()));
    const closed = server.close();
    const reply = await replies.next();
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toMatch(/connection: close/i);
    await closed;
    expect(await store.head(log)).toBe(2);
    socket.destroy();
  });

  it('a push on a connection still in the accept queue when close() is called is finished, not reset', async () => {
    const { url, server } = await start();
    const log = freshLog('drain');
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    const replies = readReplies(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => socket.write(pushRequest(log, 'queued'), () => resolve())));
    const closed = server.close();
    expect(await replies.next()).toMatch(/^HTTP\/1\.1 200/);
    await closed;
    expect(await store.head(log)).toBe(2);
    socket.destroy();
  });

  it('while a push is in flight: /health says shutting-down, /ready and new requests get 503, the push completes', async () => {
    const gated = gatedStore();
    const { url, server } = await start({ store: gated.store });
    const log = freshLog('drain');
    const { hostname, port } = new URL(url);
    // Keep-alive connections opened before the shutdown, to send requests during it (a reply during the
    // drain says connection: close, so one request each).
    const open = async () => {
      const socket = connect({ host: hostname, port: Number(port) });
      await new Promise((resolve) => socket.once('connect', resolve));
      return { socket, replies: readReplies(socket) };
    };
    const [health, ready, push] = [await open(), await open(), await open()];

    const inFlight = httpJson(`${url}/v1/logs/${log}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(new TestClient('slow').next(['a', 'b'])),
    });
    await gated.entered;
    const closed = server.close();
    await turns(5); // past the turns in which requests already on their way are still served

    health.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await health.replies.next()).toMatch(/"status":"shutting-down"/);
    ready.socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
    const notReady = await ready.replies.next();
    expect(notReady).toMatch(/^HTTP\/1\.1 503/);
    expect(notReady).toMatch(/"reason":"shutting-down"/);
    push.socket.write(pushRequest(log, 'new'));
    const refused = await push.replies.next();
    expect(refused).toMatch(/^HTTP\/1\.1 503/);
    expect(refused).toMatch(/"code":"UNAVAILABLE"/);

    gated.release();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    await closed;
    expect(await store.head(log)).toBe(2);
    expect(await store.clientSeq(log, 'new')).toBe(0);
    for (const c of [health, ready, push]) c.socket.destroy();
  });

  it('a push on an open keep-alive connection after the drain began gets 503 with connection: close, and the connection is closed', async () => {
    const gated = gatedStore();
    const { url, server } = await start({ store: gated.store });
    const log = freshLog('drain');
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const replies = readReplies(socket);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await replies.next()).toMatch(/^HTTP\/1\.1 200/); // the connection is open and idle now

    // A push in flight holds the drain open, so the idle connection is not closed by close() itself.
    const inFlight = httpJson(`${url}/v1/logs/${log}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(new TestClient('slow').next(['a'])),
    });
    await gated.entered;
    const closed = server.close();
    await turns(5); // past the turns in which requests already on their way are still served

    // The whole push (headers and body) in one write: it has arrived before it is refused.
    socket.write(pushRequest(log, 'late'));
    const refused = await replies.next();
    expect(refused).toMatch(/^HTTP\/1\.1 503/);
    expect(refused).toMatch(/"reason":"shutting-down"/);
    expect(refused).toMatch(/\r\nconnection: close\r\n/i);
    // The server closes the connection after that reply, while the push in flight still holds the drain.
    const beforeRelease = await Promise.race([socketClosed.then(() => 'closed'), new Promise((r) => setTimeout(r, 2_000, 'open'))]);
    expect(beforeRelease).toBe('closed');

    gated.release();
    expect((await inFlight).status).toBe(200);
    await closed;
    expect(await store.clientSeq(log, 'late')).toBe(0);
    socket.destroy();
  });

  it('a new connection after the drain began is refused (the listener is closed), and the pull before it was served', async () => {
    const { url, server } = await start();
    const log = freshLog('drain');
    okPush(
      await httpJson(`${url}/v1/logs/${log}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(new TestClient('x').next(['a'])),
      }),
    );
    await server.close();
    const after = await httpPull(url, log, { after: 0 }).then(
      (r) => errorOf(r).code,
      () => 'refused',
    );
    expect(after).toBe('refused');
  });
});
