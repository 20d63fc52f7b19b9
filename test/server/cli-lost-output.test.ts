import { afterAll, describe, expect, it } from 'vitest';
import { killChildren, startChildServer } from './child-server.ts';

/**
 * chronicle-server writes its log to stdout (and, with --log-format text,
 * warnings and errors to stderr). Whoever reads them may go away while the
 * server runs: a log shipper that restarts, a `| tee` that is killed. The
 * next line then fails with EPIPE, which the stream emits as 'error'; with no
 * listener for it the process died (exit 1) at its next log line, such as a
 * refused request's, though nothing was wrong with the server. It serves on,
 * its lines lost.
 */

afterAll(() => killChildren());

describe('chronicle-server whose output is no longer read', () => {
  it('keeps serving when its stdout closes (JSON log lines)', async () => {
    const server = await startChildServer(['--memory']);
    server.process.stdout!.destroy();

    // A refused request is logged (one line on stdout), after its reply.
    expect((await fetch(`${server.url}/no-such-route`)).status).toBe(404);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    // A clean shutdown (exit 0), not a death by EPIPE (exit 1).
    expect(await server.stop()).toBe(0);
    expect(server.output()).not.toMatch(/Unhandled 'error' event/);
  }, 60_000);

  it('keeps serving when stdout and stderr both close (text log lines)', async () => {
    const server = await startChildServer(['--memory', '--log-format', 'text', '--no-metrics']);
    server.process.stdout!.destroy();
    server.process.stderr!.destroy();

    // A line on stdout (a refused request), then one on stderr (the warning about /metrics being off).
    expect((await fetch(`${server.url}/no-such-route`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(503);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    expect(await server.stop()).toBe(0);
  }, 60_000);
});
