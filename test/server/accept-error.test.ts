import { Server as NetServer } from 'node:net';
import { constants } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSyncServer, type Logger, type LogStore } from '../../src/server/index.ts';

/**
 * When accept() fails for a connection waiting on the listener, libuv hands the
 * error to Node (ENOBUFS or ENOMEM under memory pressure, EPERM from a firewall
 * rule, a network error already pending on the connection, EMFILE once libuv's
 * spare descriptor is gone), and Node emits it as 'error' on the server. The
 * server listen() makes had no 'error' listener once it listened, so Node threw
 * it from libuv's callback and the process ended. The error is libuv's
 * callback called here as libuv calls it (the kernel cannot be made to fail an
 * accept on demand).
 */

const store = {
  kind: 'fake',
  watch: () => () => undefined,
  close: () => Promise.resolve(),
} as unknown as LogStore;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a failed accept() on the listener', () => {
  it('is logged, and the server keeps listening', async () => {
    const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger: Logger = { info: () => undefined, warn: () => undefined, error: (message, fields) => errors.push({ message, fields }) };
    const listening = vi.spyOn(NetServer.prototype, 'listen');
    const server = createSyncServer({ store, logger, metrics: false, closeStore: false, limits: { rateLimit: false } });
    try {
      const { url } = await server.listen(0);
      const listener = listening.mock.contexts[0] as NetServer;
      const handle = (listener as unknown as { _handle: { onconnection(this: unknown, status: number): void } })._handle;

      // libuv: uv__server_io -> connection_cb(stream, UV_EMFILE) -> net's onconnection(err).
      expect(() => handle.onconnection.call(handle, -constants.errno.EMFILE)).not.toThrow();
      expect(() => handle.onconnection.call(handle, -constants.errno.ENOBUFS)).not.toThrow();

      expect(errors).toHaveLength(1); // at most one line a minute
      expect(errors[0]).toMatchObject({ fields: { error: 'EMFILE', failedSoFar: 1 } });
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
