import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createLiveHub } from '../../src/server/live.ts';
import { createPgliteStore, createSyncServer, type LogStore, type SyncServer, type SyncServerOptions } from '../../src/server/index.ts';
import { freshLog, httpJson, httpPull, httpPush, makeEvent, makePush, okPull, okPush, openLive, sample } from './helpers.ts';
import { recordingLogger } from './recording-logger.ts';

/**
 * A client that sends requests and never reads the replies: once the kernel's buffers are full (TCP
 * zero-window probes keep the connection alive), the rest of the reply waits in the server's memory, on an
 * open descriptor, for as long as the client likes. timeouts.replyMs bounds it: a reply the server ended
 * but of which no byte was taken by the network for that long has its connection destroyed, logged and
 * counted. A client that reads, however slowly, is not cut; the server keeps serving everyone else.
 */

/** One in-memory PGlite store for the file: each describe block has a server of its own on it. */
let store: LogStore;
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await store.close();
});

/** A server (with these options) for one describe block. */
function serverForBlock(options: Partial<SyncServerOptions>) {
  const served = { url: '', port: 0, ...recordingLogger() };
  let server: SyncServer | undefined;
  beforeAll(async () => {
    server = createSyncServer({ store, logger: served.logger, closeStore: false, limits: { rateLimit: false }, ...options });
    const address = await server.listen(0);
    served.url = address.url;
    served.port = address.port;
  });
  afterAll(async () => {
    await server?.close();
  });
  return served;
}

/** Bytes of each event's data: 45 of them make a log of about 9 MB, one pull page (8 MiB and a page at most). */
const BLOB_CHARS = 200_000;
const EVENTS = 45;

/** Fills `log` with EVENTS large events, 15 to a push (a push body is at most 4 MiB). */
async function fillLog(base: string, log: string): Promise<void> {
  const blob = 'x'.repeat(BLOB_CHARS);
  for (let from = 1; from <= EVENTS; from += 15) {
    const events = Array.from({ length: 15 }, (_, i) =>
      makeEvent({ clientId: 'writer', clientSeq: from + i, aggregateId: `a${from + i}`, seq: 1, data: { blob } }),
    );
    okPush(await httpPush(base, log, makePush('writer', from, events)));
  }
}

const pullRequest = (log: string): string => `GET /v1/logs/${log}/pull?after=0&limit=5000 HTTP/1.1\r\nHost: x\r\n\r\n`;

async function openPaused(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  // Reads nothing: Node fills the socket's buffer (16 KiB) and stops; the kernel's buffers fill up behind it.
  socket.pause();
  return socket;
}

/**
 * Whether the server closed `socket` within `ms`. A paused socket reads nothing, so it would not notice
 * the server's FIN or reset by itself: an empty line (which HTTP lets a client send between requests, and
 * which the server does not read while its reply is stuck) is written every 100 ms, and a write to a
 * connection the server closed fails.
 */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const poke = setInterval(() => {
      if (!socket.destroyed) socket.write('\r\n');
    }, 100);
    const bound = setTimeout(() => {
      clearInterval(poke);
      socket.off('close', onClose);
      resolve(false);
    }, ms);
    const onClose = (): void => {
      clearInterval(poke);
      clearTimeout(bound);
      resolve(true);
    };
    socket.once('close', onClose);
  });
}

/**
 * Reads the socket `bytes` at a time every `everyMs` (a slow but steady reader) until `count` whole HTTP
 * replies have arrived; returns them (status and body). Rejects if the connection closes first.
 */
function readSlowly(socket: Socket, count: number, bytes: number, everyMs: number): Promise<{ status: number; body: string }[]> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const replies: { status: number; body: string }[] = [];
    const parse = (): void => {
      for (;;) {
        const split = buffered.indexOf('\r\n\r\n');
        if (split < 0) return;
        const head = buffered.subarray(0, split).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < split + 4 + length) return;
        replies.push({
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
          body: buffered.subarray(split + 4, split + 4 + length).toString('utf8'),
        });
        buffered = buffered.subarray(split + 4 + length);
      }
    };
    const timer = setInterval(() => {
      let budget = bytes;
      while (budget > 0) {
        const chunk = socket.read() as Buffer | null;
        if (!chunk) break;
        // Whatever read() gave beyond the budget is put back for the next turn.
        if (chunk.length > budget) socket.unshift(chunk.subarray(budget));
        buffered = Buffer.concat([buffered, chunk.subarray(0, budget)]);
        budget -= chunk.length;
      }
      parse();
      if (replies.length >= count) {
        clearInterval(timer);
        socket.off('close', onClose);
        resolve(replies);
      }
    }, everyMs);
    const onClose = (): void => {
      clearInterval(timer);
      reject(new Error(`the connection closed after ${replies.length} of ${count} replies`));
    };
    socket.once('close', onClose);
  });
}

describe('a client that never reads its reply', () => {
  const REPLY_MS = 300;
  const served = serverForBlock({ timeouts: { replyMs: REPLY_MS } });
  let log: string;
  beforeAll(async () => {
    log = freshLog('unread');
    await fillLog(served.url, log);
  });

  it('has its connection closed, logged with the request id and counted; other clients are served', async () => {
    const socket = await openPaused(served.port);
    // Three pulls of about 9 MB each: more than the kernel's buffers of both ends hold.
    socket.write(pullRequest(log).repeat(3));
    expect(await closedWithin(socket, 15_000)).toBe(true);

    const warned = served.lines.filter((line) => line.level === 'warn' && line.message.includes('did not read'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.fields).toMatchObject({ action: 'pull', log, replyMs: REPLY_MS });
    expect(warned[0]!.fields?.requestId).toEqual(expect.any(String));

    // The server serves others as before.
    const page = okPull(await httpPull(served.url, log, { after: 0, limit: 2 }));
    expect(page.events).toHaveLength(2);
    await expect
      .poll(async () => {
        const text = String((await httpJson(`${served.url}/metrics`)).body);
        return sample(text, 'chronicle_http_requests_total{action="pull",status="499"}') ?? 0;
      })
      .toBeGreaterThanOrEqual(1);
  });

  it('also when its requests are many small ones, pipelined (replies that are not JSON replies: CORS preflights)', async () => {
    const socket = await openPaused(served.port);
    // 40,000 preflights of about 300 bytes of reply each: 12 MB of replies the client never reads.
    const preflight = 'OPTIONS /health HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n';
    socket.write(preflight.repeat(40_000));
    expect(await closedWithin(socket, 15_000)).toBe(true);
    expect(served.lines.some((line) => line.level === 'warn' && line.fields?.action === 'preflight')).toBe(true);
    expect((await httpJson(`${served.url}/health`)).status).toBe(200);
  });
});

describe('a client that reads slowly but steadily', () => {
  // Progress reaches the server in steps of about a third of its socket's send buffer (the kernel wakes a
  // writer only then; up to 4 MiB on loopback): replyMs here is several such steps of this reader.
  const REPLY_MS = 2000;
  const served = serverForBlock({ timeouts: { replyMs: REPLY_MS } });
  let log: string;
  beforeAll(async () => {
    log = freshLog('slow');
    await fillLog(served.url, log);
  });

  it('gets every reply whole, although they take far longer than replyMs to deliver', async () => {
    const socket = await openPaused(served.port);
    socket.write(pullRequest(log).repeat(2));
    // 64 KiB every 20 ms (at most 3 MB/s): several seconds for the two replies, which are about 18 MB.
    const replies = await readSlowly(socket, 2, 64 * 1024, 20);
    socket.destroy();
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      const page = JSON.parse(reply.body) as { events: unknown[] };
      expect(page.events.length).toBeGreaterThan(0);
    }
    expect(served.lines.filter((line) => line.message.includes('did not read'))).toEqual([]);
  });
});

describe('a live subscriber that never reads', () => {
  // A head message is a few dozen bytes, sent once per head move. A socket that reads nothing never answers
  // the pings either, and is terminated at the second ping after its last pong: what it can hold is bounded.
  const served = serverForBlock({ livePingIntervalMs: 200 });

  it('is terminated by the ping', async () => {
    const log = freshLog('live');
    const client = await openLive(served.url, log);
    expect((await client.next()).type).toBe('hello');
    const liveSockets = async (): Promise<number | undefined> =>
      sample(String((await httpJson(`${served.url}/metrics`)).body), 'chronicle_live_sockets');
    await expect.poll(liveSockets).toBe(1);
    (client.ws as unknown as { _socket: Socket })._socket.pause();
    for (let n = 1; n <= 20; n++) {
      okPush(await httpPush(served.url, log, makePush('c', n, [makeEvent({ clientId: 'c', clientSeq: n, aggregateId: `a${n}`, seq: 1 })])));
    }
    await expect.poll(liveSockets).toBe(0);
    client.ws.terminate();
  });
});

describe('a live subscriber that never reads but answers pings (unsolicited pongs keep it alive)', () => {
  // Its termination once a message has not drained for replyMs: test/unit/live-slow-reader.test.ts (a socket whose
  // buffers are full; with one message at a time, head moves alone would take long to fill them here).
  it('holds one head message for a socket that does not read, not one per move; one that reads hears every move up to the last', async () => {
    const REPLY_MS = 300;
    // The hub over a store whose head moves the test makes, as fast as a busy log would, on a real socket.
    let publish: (log: string, head: number) => void = () => undefined;
    const headStore = {
      watch: (onMove: typeof publish) => {
        publish = onMove;
        return () => undefined;
      },
      head: () => Promise.resolve(0),
    } as unknown as LogStore;
    const { logger, lines } = recordingLogger();
    // Pings every 5 s: the stuck socket answers them (unsolicited pongs), and the reader has time to read what is ahead of one.
    const hub = createLiveHub(headStore, logger, 5000, 0, REPLY_MS);
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const serverSockets: WebSocket[] = [];
    wss.on('connection', (ws) => {
      serverSockets.push(ws);
      void hub.add('log', ws);
    });
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const open = async (): Promise<WebSocket> => {
      const ws = new WebSocket(url);
      ws.on('error', () => undefined);
      await once(ws, 'message'); // hello
      return ws;
    };
    const stuck = await open();
    const reader = await open();
    let lastHead = 0;
    reader.on('message', (data) => (lastHead = (JSON.parse(String(data)) as { head: number }).head));
    (stuck as unknown as { _socket: Socket })._socket.pause();
    const pongs = setInterval(() => stuck.pong(), 50);
    try {
      // 300,000 head moves, some 9 MB of messages: more than the kernel's buffers hold.
      for (let head = 1; head <= 300_000; head++) {
        publish('log', head);
        if (head % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await expect.poll(() => lastHead).toBe(300_000);
      expect(reader.readyState).toBe(WebSocket.OPEN);
      // A message per move would be some 9 MB waiting for the stuck socket; at most one of ~30 bytes waits now.
      expect(serverSockets[0]!.bufferedAmount).toBeLessThan(100);
      expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
    } finally {
      clearInterval(pongs);
      stuck.terminate();
      reader.terminate();
      await hub.close();
      wss.close();
    }
  });
});
