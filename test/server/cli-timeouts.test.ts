import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { killChildren, runCli, startChildServer } from './child-server.ts';

/**
 * The HTTP bounds an operator of chronicle-server may need to change without writing code: a request's
 * headers (slow networks, or a tighter bound against idle sockets) and a reply nobody reads (a pull
 * page of several MB to weak phones may need longer than 30 s without progress, or a tighter bound).
 * Each flag reaches the server: the tests set bounds far below the defaults (20 s and 30 s) and see them
 * act, which they could not with the defaults within the tests' waits.
 */

afterAll(() => killChildren());

/** Everything the server sends on a connection where only `text` is written, until it closes it (or `ms` pass). */
function answerTo(port: number, text: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('utf8')));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(ms, () => socket.destroy(new Error(`the server did not close the connection within ${ms} ms`)));
  });
}

/**
 * Whether the server closed `socket` (which reads nothing) within `ms`: a paused socket would not notice
 * the server's FIN or reset by itself, so an empty line (which HTTP allows between requests) is written
 * every 100 ms, and a write to a closed connection fails.
 */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const poke = setInterval(() => {
      if (!socket.destroyed) socket.write('\r\n');
    }, 100);
    const bound = setTimeout(() => {
      clearInterval(poke);
      resolve(false);
    }, ms);
    socket.once('close', () => {
      clearInterval(poke);
      clearTimeout(bound);
      resolve(true);
    });
  });
}

describe('chronicle-server timeout flags', () => {
  it('--headers-timeout: a request whose headers never end is answered 408 once it passes', async () => {
    const server = await startChildServer(['--memory', '--headers-timeout', '300']);
    try {
      const reply = await answerTo(Number(new URL(server.url).port), 'GET /health HTTP/1.1\r\nHost: x\r\n', 10_000);
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(reply).toContain('"REQUEST_TIMEOUT"');
    } finally {
      await server.stop();
    }
  }, 30_000);

  it('--reply-timeout: a client that never reads its replies has its connection closed, and the server says why', async () => {
    const server = await startChildServer(['--memory', '--reply-timeout', '300']);
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.pause();
      // 40,000 pipelined health checks: about 10 MB of replies, more than the kernel's buffers of both ends hold.
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(40_000));
      expect(await closedWithin(socket, 15_000)).toBe(true);
      const warning = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level?: string; msg?: string; message?: string; replyMs?: number })
        .find((line) => line.replyMs !== undefined);
      expect(warning).toMatchObject({ level: 'warn', replyMs: 300 });
      // The server serves the next client as before.
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('refuses a value that is not a positive integer of milliseconds, in one line', async () => {
    for (const [flag, value, message] of [
      ['--headers-timeout', '0', '--headers-timeout must be a positive integer, got "0"'],
      ['--reply-timeout', '1.5', '--reply-timeout must be a positive integer, got "1.5"'],
      ['--reply-timeout', '3000000000', '--reply-timeout must be at most 2147483647'],
    ] as const) {
      const { code, output } = await runCli(['--memory', flag, value]);
      expect({ flag, value, code }).toEqual({ flag, value, code: 2 });
      expect(output).toContain(message);
      expect(output).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
