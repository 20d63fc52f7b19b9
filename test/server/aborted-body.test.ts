import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, type LogStore, type Logger, type SyncServer } from '../../src/server/index.ts';
import { freshLog, sample } from './helpers.ts';

/**
 * A client that goes away while its push body is still arriving (a phone that lost its network, an
 * upload cut by the shutdown timeout) is the client's doing, not a failure of the server's: there is
 * nobody to answer, so no reply is attempted, and nothing is stored. It was logged as an ERROR
 * "internal error" with a stack trace (readBody's plain Error became a 500), which pages an operator
 * for nothing. Now the request ends with the status 499 ("client closed request", never sent): an info
 * line with the access log on, nothing without it, and chronicle_http_requests_total{status="499"} in
 * the metrics, not a refused push.
 */

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** The lines about requests other than the test's reads of /metrics (and not the warning a server without auth logs as it starts). */
const requestLines = (lines: Line[]): Line[] =>
  lines.filter((l) => !l.message.includes('NO AUTHENTICATION') && l.fields?.path !== '/metrics');

let store: LogStore;
const servers: SyncServer[] = [];

/** A server whose log lines are kept in `lines`. */
async function start(accessLog: boolean): Promise<{ port: number; url: string; lines: Line[] }> {
  const lines: Line[] = [];
  const logger: Logger = {
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
  };
  const server = createSyncServer({ store, logger, accessLog, closeStore: false, limits: { rateLimit: false } });
  servers.push(server);
  const { port, url } = await server.listen(0);
  return { port, url, lines };
}

/** Sends a push's headers and the start of its body, then drops the connection while the server reads the rest. */
async function pushAndLeave(port: number, log: string, requestId: string): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST /v1/logs/${log}/push HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\nContent-Type: application/json\r\n` +
      `Content-Length: 1000\r\n\r\n{"protocolVersion":2,`,
  );
  await new Promise((resolve) => setTimeout(resolve, 200)); // the server is reading the body now
  socket.destroy();
}

/** How many requests of `action` the server counted with `status`, polled until it is `expected`. */
async function expectCounted(url: string, action: string, status: number, expected: number): Promise<string> {
  let text = '';
  await expect
    .poll(async () => {
      text = await (await fetch(`${url}/metrics`)).text();
      return sample(text, `chronicle_http_requests_total{action="${action}",status="${status}"}`);
    })
    .toBe(expected);
  return text;
}

beforeAll(async () => {
  store = await createPgliteStore();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store.close();
});

describe('a push whose client disconnects while its body arrives', () => {
  it('is one info line in the access log and a 499 in the metrics, no error and no refused push; nothing is stored', async () => {
    const { port, url, lines } = await start(true);
    const log = freshLog('gone');
    await pushAndLeave(port, log, 'gone-1');

    const metrics = await expectCounted(url, 'push', 499, 1);
    // The push families count replies: a client that left got none.
    expect(metrics).not.toMatch(/^chronicle_pushes_total\{/m);
    const about = lines.filter((l) => l.fields?.requestId === 'gone-1');
    expect(about.map((l) => [l.level, l.message])).toEqual([
      ['info', 'request abandoned: the client closed the connection before the reply'],
    ]);
    expect(about[0]?.fields).toMatchObject({ method: 'POST', action: 'push', log, status: 499 });
    // Nothing else: Node also reports the connection's early end as a parse error, which is no refused request.
    expect(requestLines(lines)).toEqual(about);
    expect(metrics).not.toMatch(/status="400"/);
    expect(await store.head(log)).toBe(0);
  });

  it('is not logged at all without the access log', async () => {
    const { port, url, lines } = await start(false);
    const log = freshLog('gone');
    await pushAndLeave(port, log, 'gone-2');

    const metrics = await expectCounted(url, 'push', 499, 1);
    expect(requestLines(lines)).toEqual([]);
    expect(metrics).not.toMatch(/status="400"/);
    expect(await store.head(log)).toBe(0);
  });
});
