import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger } from '../../src/server/index.ts';

/**
 * A closed sync server stays closed. listen() after close() succeeded: the process then held a listener
 * answering every request 503 "shutting-down" (its store closed) that nothing could shut, as close()
 * returns its first call's promise. (A library user's race: a SIGTERM handler's close() that runs before
 * the start-up code's listen().) It is refused now, as a second listen() is, with a plain Error.
 */

/** A port nothing listens on (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Whether a TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('listen() after close()', () => {
  it('is refused, and nothing listens', async () => {
    const store = await createPgliteStore();
    const server = createSyncServer({ store, logger: silentLogger, limits: { rateLimit: false } });
    await server.close();
    const port = await freePort();
    await expect(server.listen(port)).rejects.toThrow(/listen\(\) after close\(\)/);
    expect(await accepts(port)).toBe(false);
  });
});
