import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { freshLog, httpJson, httpPull, httpPush, makeEvent, makePush, okPull, okPush, sample } from './helpers.ts';
import { recordingLogger } from './recording-logger.ts';
import { openRaw, pull, push } from './raw-http.ts';

/**
 * Requests pipelined on one keep-alive connection: Node parses them all and runs the handler for each as it
 * is parsed, while their replies wait in a queue for the one ahead to be written. When the connection dies
 * (the client resets it, or the server cuts a reply that is not read) with replies still queued, Node
 * emits 'close' for the reply under way only: those queued behind it never emit anything. The server counts
 * a request done at its reply's 'close': they stayed in flight, so every later close() waited its whole
 * shutdownMs for them, and they were never logged nor counted in the metrics.
 */

/** Far above the bound the tests put on close(): a close() that waits for it fails them. */
const SHUTDOWN_MS = 5_000;
/** A bound on a hang, not a measure of speed: close() takes some tens of milliseconds here. */
const CLOSE_BOUND_MS = 2_500;

let store: LogStore;
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await store.close();
});

/** Pulls of `heldLog` wait for `release()`; everything else goes to the store as it is. */
function holdingStore(heldLog: string): { store: LogStore; release: () => void; held: Promise<void> } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'pull') {
        return async (log: string, query: Parameters<LogStore['pull']>[1]) => {
          if (log === heldLog) {
            reached();
            await gate;
          }
          return target.pull(log, query);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, release, held };
}

async function start(over: LogStore) {
  const recorded = recordingLogger();
  const server = createSyncServer({
    store: over,
    logger: recorded.logger,
    closeStore: false,
    accessLog: true,
    limits: { rateLimit: false },
    timeouts: { shutdownMs: SHUTDOWN_MS },
  });
  const address = await server.listen(0);
  return { server, ...address, ...recorded };
}

/** Fills `log` with 45 events of 200 KB (about 9 MB: one pull page, more than the kernel's buffers of both ends hold). */
async function fillLog(url: string, log: string): Promise<void> {
  const blob = 'x'.repeat(200_000);
  for (let from = 1; from <= 45; from += 15) {
    const events = Array.from({ length: 15 }, (_, i) =>
      makeEvent({ clientId: 'writer', clientSeq: from + i, aggregateId: `a${from + i}`, seq: 1, data: { blob } }),
    );
    okPush(await httpPush(url, log, makePush('writer', from, events)));
  }
}

type Lines = ReturnType<typeof recordingLogger>['lines'];

/** The access-log lines of a request id ("request", "request abandoned..."; not the warning of a reply cut). */
function linesOf(lines: Lines, id: string) {
  return lines.filter((line) => line.fields?.requestId === id && line.message.startsWith('request'));
}

/** How many access-log lines each request has: 1 for each, once all are finished (and never 2). */
const finishedCounts = (lines: Lines, ids: string[]): number[] => ids.map((id) => linesOf(lines, id).length);

const statusOf = (lines: Lines, id: string): unknown => linesOf(lines, id)[0]?.fields?.status;

/** How long close() takes; it must not wait shutdownMs for requests whose connection is gone. */
async function closeTime(server: SyncServer): Promise<number> {
  const started = performance.now();
  await server.close();
  return performance.now() - started;
}

const pulls499 = async (url: string): Promise<number> =>
  sample(String((await httpJson(`${url}/metrics`)).body), 'chronicle_http_requests_total{action="pull",status="499"}') ?? 0;

describe('requests pipelined behind a reply when the connection dies', () => {
  it('a reply being written, the client resets the connection: those queued behind it are finished (499), close() does not wait', async () => {
    const served = await start(store);
    // About 9 MB per pull page: the first reply is still being written when the client resets, the two
    // others queued behind it.
    const log = freshLog('big');
    await fillLog(served.url, log);

    const socket = await openRaw(served.port);
    socket.write(pull(log, 'big-1') + pull(log, 'big-2') + pull(log, 'big-3'));
    // The first bytes of the first reply: the server is writing it. Nothing more is read.
    await once(socket, 'data');
    socket.pause();
    socket.resetAndDestroy();
    await once(socket, 'close');

    // Each of the three is finished once. Node closes the reply that has the socket when it dies (the
    // second one, often: the first one's 'finish' comes as the socket dies, and the next gets its turn);
    // the last never had it: 499, the client left before its reply.
    const ids = ['big-1', 'big-2', 'big-3'];
    await expect.poll(() => finishedCounts(served.lines, ids), { timeout: 3_000 }).toEqual([1, 1, 1]);
    expect(linesOf(served.lines, 'big-3')[0]!.fields).toMatchObject({ action: 'pull', log, status: 499 });
    expect(await pulls499(served.url)).toBe(ids.filter((id) => statusOf(served.lines, id) === 499).length);

    expect(await closeTime(served.server)).toBeLessThan(CLOSE_BOUND_MS);
    // Nothing finished twice, also at close().
    expect(finishedCounts(served.lines, ids)).toEqual([1, 1, 1]);
  });

  it('a reply the server is still making, a push queued behind it stored: the push is counted and logged once', async () => {
    const heldLog = freshLog('held');
    const pushLog = freshLog('pushed');
    const otherLog = freshLog('other');
    const holding = holdingStore(heldLog);
    const served = await start(holding.store);

    const socket = await openRaw(served.port);
    const body = JSON.stringify(makePush('c', 1, [makeEvent({ clientId: 'c', clientSeq: 1, aggregateId: 'a1', seq: 1 })]));
    socket.write(pull(heldLog, 'held-1') + push(pushLog, 'held-2', body) + pull(otherLog, 'held-3'));
    await holding.held;
    // Node ran the handlers of the requests behind the held one: the push is stored, its reply queued.
    await expect.poll(async () => okPull(await httpPull(served.url, pushLog, { after: 0, limit: 10 })).events.length).toBe(1);

    socket.resetAndDestroy();
    // Node closes the reply that has the socket (the held one) when the server sees the connection die.
    const ids = ['held-1', 'held-2', 'held-3'];
    await expect.poll(() => finishedCounts(served.lines, ids.slice(0, 1)), { timeout: 3_000 }).toEqual([1]);
    // The held pull is answered now, on a connection that is gone.
    holding.release();

    await expect.poll(() => finishedCounts(served.lines, ids), { timeout: 3_000 }).toEqual([1, 1, 1]);
    // The push was stored, but its reply never reached the client: 499 (as an unread reply is counted);
    // its event is counted as stored.
    expect(linesOf(served.lines, 'held-2')[0]!.fields).toMatchObject({ action: 'push', log: pushLog, status: 499 });
    expect(linesOf(served.lines, 'held-3')[0]!.fields).toMatchObject({ action: 'pull', log: otherLog, status: 499 });
    const metrics = String((await httpJson(`${served.url}/metrics`)).body);
    expect(sample(metrics, 'chronicle_http_requests_total{action="push",status="499"}')).toBe(1);
    expect(sample(metrics, 'chronicle_push_events_total{result="stored",code="OK"}')).toBe(1);

    expect(await closeTime(served.server)).toBeLessThan(CLOSE_BOUND_MS);
    // Nothing finished twice, also when the held reply ended after its connection was gone.
    expect(finishedCounts(served.lines, ids)).toEqual([1, 1, 1]);
  });

  it('a handler still at work when its client left: close() waits for it (up to shutdownMs) before it ends', async () => {
    const heldLog = freshLog('working');
    const holding = holdingStore(heldLog);
    const served = await start(holding.store);
    const socket = await openRaw(served.port);
    socket.write(pull(heldLog, 'working-1'));
    await holding.held;
    socket.resetAndDestroy();
    // The request is over for the client (logged and counted as its leaving); its handler still awaits the store.
    await expect.poll(() => finishedCounts(served.lines, ['working-1']), { timeout: 3_000 }).toEqual([1]);

    let closed = false;
    const closing = served.server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Before: close() ended at once and went on to close the store under the handler still using it.
    expect(closed).toBe(false);
    holding.release();
    await closing;
    expect(finishedCounts(served.lines, ['working-1'])).toEqual([1]);
  });

  it('the server cuts a reply that is not read: those queued behind it are finished too, close() does not wait', async () => {
    const recorded = recordingLogger();
    const server = createSyncServer({
      store,
      logger: recorded.logger,
      closeStore: false,
      accessLog: true,
      limits: { rateLimit: false },
      timeouts: { shutdownMs: SHUTDOWN_MS, replyMs: 300 },
    });
    const { port, url } = await server.listen(0);
    const log = freshLog('unread');
    await fillLog(url, log);
    const socket = await openRaw(port);
    socket.pause();
    socket.write(pull(log, 'cut-1') + pull(log, 'cut-2') + pull(log, 'cut-3'));

    // The first reply is cut (replyMs without progress), which kills the connection: each of the three is
    // finished once, the last (it never had its turn) as 499.
    const ids = ['cut-1', 'cut-2', 'cut-3'];
    await expect.poll(() => finishedCounts(recorded.lines, ids), { timeout: 10_000 }).toEqual([1, 1, 1]);
    expect(recorded.lines.filter((line) => line.level === 'warn' && line.message.includes('did not read'))).toHaveLength(1);
    expect(linesOf(recorded.lines, 'cut-3')[0]!.fields).toMatchObject({ action: 'pull', log, status: 499 });
    expect(await pulls499(url)).toBe(ids.filter((id) => statusOf(recorded.lines, id) === 499).length);
    socket.destroy();

    expect(await closeTime(server)).toBeLessThan(CLOSE_BOUND_MS);
    expect(finishedCounts(recorded.lines, ids)).toEqual([1, 1, 1]);
  });
});
