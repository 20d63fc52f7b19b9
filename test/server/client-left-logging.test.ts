import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../src/server/errors.ts';
import { createPgliteStore, createSyncServer, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { freshLog, httpJson, httpPush, makeEvent, makePush, okPush, sample } from './helpers.ts';
import { recordingLogger } from './recording-logger.ts';
import { openRaw, pull, push } from './raw-http.ts';

/**
 * A request whose client closes the connection before its reply is counted and logged as 499 ("client
 * closed request": an info line with the access log, nothing without it), whatever the server was doing
 * when the client left:
 * - its handler still at work (a pull the store is slow to answer, a push still committing): it was
 *   logged as status 0, "request failed", an error, and counted as status 0. A push stored all the same
 *   still counts its events as stored; a server error that comes after the client left is still logged
 *   as an error, on a line of its own.
 * - its reply made, but queued behind another on a pipelined keep-alive connection that died: Node hands
 *   the dead socket to it once the reply ahead ends, and it gets 'close' with none of it sent. It was
 *   logged with the status its handler set (200), as if the client had it.
 */

let store: LogStore;
const servers: SyncServer[] = [];
beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store.close();
});

interface Holding {
  store: LogStore;
  /** Resolves once a pull or push of the held log reached the store. */
  held: Promise<void>;
  /** Lets the held calls go on to the store; with an error, they fail with it instead. */
  release(error?: unknown): void;
}

/** Pulls and pushes of `heldLog` wait for `release()`; everything else goes to the store as it is. */
function holdingStore(heldLog: string): Holding {
  let release!: (error?: unknown) => void;
  const gate = new Promise<unknown>((resolve) => (release = resolve));
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const hold = async (log: string): Promise<void> => {
    if (log !== heldLog) return;
    reached();
    const error = await gate;
    if (error !== undefined) throw error;
  };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'pull' || prop === 'push' || prop === 'pushDecoded') {
        const method = Reflect.get(target, prop, receiver) as ((log: string, ...rest: unknown[]) => Promise<unknown>) | undefined;
        if (!method) return undefined;
        return async (log: string, ...rest: unknown[]) => {
          await hold(log);
          return method.call(target, log, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, release, held };
}

async function start(over: LogStore, options: { accessLog?: boolean; storeMs?: number } = {}) {
  const recorded = recordingLogger();
  const server = createSyncServer({
    store: over,
    logger: recorded.logger,
    closeStore: false,
    accessLog: options.accessLog ?? true,
    limits: { rateLimit: false },
    timeouts: options.storeMs ? { storeMs: options.storeMs } : {},
  });
  servers.push(server);
  const address = await server.listen(0);
  return { server, ...address, ...recorded };
}

const onePush = (clientId: string): string =>
  JSON.stringify(makePush(clientId, 1, [makeEvent({ clientId, clientSeq: 1, aggregateId: 'a1', seq: 1 })]));

type Lines = ReturnType<typeof recordingLogger>['lines'];

/** Every line about a request id. */
const about = (lines: Lines, id: string) => lines.filter((line) => line.fields?.requestId === id);

/** The request's own line ("request...", once it ended). */
const requestLine = (lines: Lines, id: string) => about(lines, id).filter((line) => line.message.startsWith('request'));

const ABANDONED = 'request abandoned: the client closed the connection before the reply';

async function metricsOf(url: string): Promise<string> {
  return String((await httpJson(`${url}/metrics`)).body);
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

describe('a client that closes the connection while its handler is at work', () => {
  it('a pull the store is slow to answer: one info line, 499, no error; the answer that comes later is dropped quietly', async () => {
    const log = freshLog('slow-pull');
    const holding = holdingStore(log);
    const served = await start(holding.store);
    const socket = await openRaw(served.port);
    socket.write(pull(log, 'slow-pull-1'));
    await holding.held;
    socket.destroy();

    await expect.poll(() => requestLine(served.lines, 'slow-pull-1').length, { timeout: 3_000 }).toBe(1);
    holding.release();
    // The pull is answered now, on a connection that is gone: nothing more about it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(about(served.lines, 'slow-pull-1').map((line) => [line.level, line.message])).toEqual([['info', ABANDONED]]);
    expect(requestLine(served.lines, 'slow-pull-1')[0]!.fields).toMatchObject({ method: 'GET', action: 'pull', log, status: 499 });
    const metrics = await metricsOf(served.url);
    expect(sample(metrics, 'chronicle_http_requests_total{action="pull",status="499"}')).toBe(1);
    expect(metrics).not.toMatch(/status="0"/);
    expect(served.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('without the access log, it is not logged at all', async () => {
    const log = freshLog('slow-pull');
    const holding = holdingStore(log);
    const served = await start(holding.store, { accessLog: false });
    const socket = await openRaw(served.port);
    socket.write(pull(log, 'quiet-1'));
    await holding.held;
    socket.destroy();

    await expect
      .poll(async () => sample(await metricsOf(served.url), 'chronicle_http_requests_total{action="pull",status="499"}'), {
        timeout: 3_000,
      })
      .toBe(1);
    holding.release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(about(served.lines, 'quiet-1')).toEqual([]);
    expect(served.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a push still committing: 499, and its events, stored all the same, are counted as stored', async () => {
    const log = freshLog('slow-push');
    const holding = holdingStore(log);
    const served = await start(holding.store);
    const socket = await openRaw(served.port);
    socket.write(push(log, 'slow-push-1', onePush('c')));
    await holding.held;
    socket.destroy();

    await expect.poll(() => requestLine(served.lines, 'slow-push-1').length, { timeout: 3_000 }).toBe(1);
    holding.release();
    await expect.poll(() => store.head(log), { timeout: 3_000 }).toBe(1);
    await expect
      .poll(async () => sample(await metricsOf(served.url), 'chronicle_push_events_total{result="stored",code="OK"}'), { timeout: 3_000 })
      .toBe(1);

    expect(about(served.lines, 'slow-push-1').map((line) => [line.level, line.message])).toEqual([['info', ABANDONED]]);
    expect(requestLine(served.lines, 'slow-push-1')[0]!.fields).toMatchObject({ method: 'POST', action: 'push', log, status: 499 });
    const metrics = await metricsOf(served.url);
    expect(sample(metrics, 'chronicle_http_requests_total{action="push",status="499"}')).toBe(1);
    // The push families count replies: this one got none.
    expect(metrics).not.toMatch(/^chronicle_pushes_total\{/m);
    expect(metrics).not.toMatch(/status="0"/);
    expect(served.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a server error that comes after the client left (the store timed out) is still logged as an error, the request as 499', async () => {
    const log = freshLog('timed-out');
    const holding = holdingStore(log);
    const served = await start(holding.store, { storeMs: 300 });
    const socket = await openRaw(served.port);
    socket.write(pull(log, 'timed-out-1'));
    await holding.held;
    socket.destroy();

    await expect.poll(() => about(served.lines, 'timed-out-1').length, { timeout: 3_000 }).toBe(2);
    holding.release();
    const lines = about(served.lines, 'timed-out-1');
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['info', ABANDONED],
      ['error', 'request failed after its client left (no reply was sent)'],
    ]);
    expect(lines[0]!.fields).toMatchObject({ action: 'pull', log, status: 499 });
    expect(lines[1]!.fields).toMatchObject({ action: 'pull', log, status: 503, code: 'UNAVAILABLE', reason: 'store-timeout' });
    expect(lines[1]!.fields?.message).toContain('did not answer the pull');
    const metrics = await metricsOf(served.url);
    expect(sample(metrics, 'chronicle_http_requests_total{action="pull",status="499"}')).toBe(1);
    expect(metrics).not.toMatch(/status="(0|503)"/);
  });

  it('an internal error that comes after the client left is logged once, as internal errors are', async () => {
    const log = freshLog('broken');
    const holding = holdingStore(log);
    const served = await start(holding.store);
    const socket = await openRaw(served.port);
    socket.write(pull(log, 'broken-1'));
    await holding.held;
    socket.destroy();

    await expect.poll(() => requestLine(served.lines, 'broken-1').length, { timeout: 3_000 }).toBe(1);
    holding.release(new Error('the disk is on fire'));
    await expect.poll(() => about(served.lines, 'broken-1').length, { timeout: 3_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = about(served.lines, 'broken-1');
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['info', ABANDONED],
      ['error', 'internal error'],
    ]);
    expect(lines[1]!.fields?.error).toContain('the disk is on fire');
  });
});

describe('a reply queued on a pipelined connection that died, none of it sent', () => {
  it('is 499, not the status its handler set; a push stored all the same counts its events as stored', async () => {
    const served = await start(store);
    const bigLog = freshLog('big');
    const pushLog = freshLog('queued-push');
    await fillLog(served.url, bigLog);

    const socket = await openRaw(served.port);
    // A reply of about 9 MB, then a push whose reply waits behind it.
    socket.write(pull(bigLog, 'queued-1') + push(pushLog, 'queued-2', onePush('q')));
    await expect.poll(() => store.head(pushLog), { timeout: 3_000 }).toBe(1);
    // The first bytes of the first reply: the server is writing it. Nothing more is read.
    await once(socket, 'data');
    socket.pause();
    socket.resetAndDestroy();
    await once(socket, 'close');

    const ids = ['queued-1', 'queued-2'];
    await expect.poll(() => ids.map((id) => requestLine(served.lines, id).length), { timeout: 3_000 }).toEqual([1, 1]);
    // The push's reply never had a byte on the wire.
    expect(requestLine(served.lines, 'queued-2')[0]!.fields).toMatchObject({ action: 'push', log: pushLog, status: 499 });
    const metrics = await metricsOf(served.url);
    expect(sample(metrics, 'chronicle_http_requests_total{action="push",status="499"}')).toBe(1);
    expect(sample(metrics, 'chronicle_push_events_total{result="stored",code="OK"}')).toBe(46);
    expect(served.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a server error it would have been answered with is still logged as an error, the request as 499', async () => {
    const failingLog = freshLog('unreachable');
    const holding = holdingStore(failingLog);
    // The store fails every pull of that log at once.
    holding.release(new SyncError('UNAVAILABLE', 'The log store is unreachable', { reason: 'store-unreachable' }));
    const served = await start(holding.store);
    const bigLog = freshLog('big');
    await fillLog(served.url, bigLog);

    const socket = await openRaw(served.port);
    socket.write(pull(bigLog, 'failed-1') + pull(failingLog, 'failed-2'));
    await holding.held;
    await once(socket, 'data');
    socket.pause();
    socket.resetAndDestroy();
    await once(socket, 'close');

    await expect.poll(() => about(served.lines, 'failed-2').length, { timeout: 3_000 }).toBe(2);
    const lines = about(served.lines, 'failed-2');
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['error', 'request failed after its client left (no reply was sent)'],
      ['info', ABANDONED],
    ]);
    expect(lines[0]!.fields).toMatchObject({
      action: 'pull',
      log: failingLog,
      status: 503,
      code: 'UNAVAILABLE',
      reason: 'store-unreachable',
    });
    expect(lines[1]!.fields).toMatchObject({ action: 'pull', log: failingLog, status: 499 });
    const metrics = await metricsOf(served.url);
    expect(sample(metrics, 'chronicle_http_requests_total{action="pull",status="503"}')).toBeUndefined();
  });
});
