import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/server/auth.ts';
import { requestToken } from '../../src/server/auth.ts';
import { SyncError } from '../../src/server/errors.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { freshLog, httpPush, makeEvent, makePush, openLive, type LiveClient } from './helpers.ts';

/**
 * docs/protocol.md, Live channel: an open socket's credentials are asked
 * about again (liveAuthRecheckMs); a token that expired or was revoked closes
 * it with 4401, a principal that lost read access with 4403, and a hook that
 * cannot answer for now leaves it open.
 */

/** The auth hook's view of the world, changed by the tests: token -> what it may read, or a failure. */
const grants = new Map<string, Principal | 'hook-fails' | 'hook-hangs'>();
const auth = (request: IncomingMessage): Principal | null | Promise<never> => {
  const answer = grants.get(requestToken(request) ?? '');
  if (answer === 'hook-fails') throw new SyncError('UNAVAILABLE', 'the identity service is down', { reason: 'idp-down' });
  if (answer === 'hook-hangs') return new Promise<never>(() => undefined);
  return answer ?? null;
};

let store: LogStore;
let server: SyncServer;
let url = '';
beforeAll(async () => {
  store = await createPgliteStore();
  server = createSyncServer({
    store,
    logger: silentLogger,
    auth,
    liveAuthRecheckMs: 40,
    timeouts: { authMs: 100 },
    limits: { rateLimit: false },
  });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server?.close();
  await store?.close();
});

/** The close code and reason, or 'open' when the socket is still open after `ms`. */
function closedWithin(live: LiveClient, ms: number): Promise<{ code: number; reason: string } | 'open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), ms);
    live.ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

describe('live sockets: credentials asked about again', () => {
  it('a revoked token closes its socket with 4401; a principal that may no longer read the log, with 4403', async () => {
    const log = freshLog('recheck');
    grants.set('t-revoked', { id: 'alice', read: [log], write: [] });
    grants.set('t-narrowed', { id: 'bob', read: [log], write: [] });
    const revoked = await openLive(url, log, { token: 't-revoked' });
    const narrowed = await openLive(url, log, { token: 't-narrowed' });
    await revoked.next();
    await narrowed.next();
    grants.delete('t-revoked');
    grants.set('t-narrowed', { id: 'bob', read: ['another-log'], write: [] });
    // Both listeners first: either socket may close while the other is awaited.
    const [revokedClose, narrowedClose] = await Promise.all([closedWithin(revoked, 2_000), closedWithin(narrowed, 2_000)]);
    expect(revokedClose).toMatchObject({ code: 4401 });
    expect(narrowedClose).toEqual({ code: 4403, reason: expect.stringMatching(/may not read/) });
  });

  it('a socket whose credentials still hold stays open and hears head moves; so does one whose hook fails or hangs for now', async () => {
    const log = freshLog('recheck');
    grants.set('t-kept', { id: 'carol', read: [log], write: [log] });
    grants.set('t-flaky', { id: 'dave', read: [log], write: [] });
    grants.set('t-slow', { id: 'erin', read: [log], write: [] });
    const kept = await openLive(url, log, { token: 't-kept' });
    const flaky = await openLive(url, log, { token: 't-flaky' });
    const slow = await openLive(url, log, { token: 't-slow' });
    for (const live of [kept, flaky, slow]) await live.next();
    grants.set('t-flaky', 'hook-fails');
    grants.set('t-slow', 'hook-hangs');
    // Several recheck intervals (40 ms) and auth timeouts (100 ms) pass.
    const outcomes = await Promise.all([kept, flaky, slow].map((live) => closedWithin(live, 600)));
    expect(outcomes).toEqual(['open', 'open', 'open']);
    const push = makePush('c1', 1, [makeEvent({ clientId: 'c1', clientSeq: 1, aggregateId: 'o1', seq: 1 })]);
    expect((await httpPush(url, log, push, 't-kept')).status).toBe(200);
    expect(await kept.untilHead(1)).toBe(1);
    for (const live of [kept, flaky, slow]) await live.close();
  });

  it('a hook that stops answering is asked once per socket, at most 32 at once, and does not hold close()', async () => {
    let hanging = false;
    let calls = 0;
    const hangingStore = await createPgliteStore();
    const hangingServer = createSyncServer({
      store: hangingStore,
      logger: silentLogger,
      liveAuthRecheckMs: 20,
      // Requests' auth is bounded by this; a recheck's is not, or a hanging hook would be asked again every interval.
      timeouts: { authMs: 50 },
      limits: { rateLimit: false },
      auth: (request) => {
        if (!hanging) return requestToken(request) === 't' ? { id: 'u', read: '*', write: [] } : null;
        calls++;
        return new Promise<never>(() => undefined);
      },
    });
    try {
      const base = (await hangingServer.listen(0)).url;
      const log = freshLog('recheck');
      const sockets = await Promise.all(Array.from({ length: 40 }, () => openLive(base, log, { token: 't' })));
      hanging = true;
      // Many recheck intervals pass: each socket is due again and again, but its last ask never settled.
      const outcomes = await Promise.all(sockets.map((live) => closedWithin(live, 600)));
      expect(outcomes.every((o) => o === 'open')).toBe(true);
      expect(calls).toBeGreaterThan(0);
      expect(calls).toBeLessThanOrEqual(32);
    } finally {
      const started = Date.now();
      await hangingServer.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      await hangingStore.close();
    }
  });

  it('liveAuthRecheckMs must be 0 or a whole number of milliseconds', () => {
    expect(() => createSyncServer({ store, logger: silentLogger, liveAuthRecheckMs: -1 })).toThrow(/liveAuthRecheckMs/);
    expect(() => createSyncServer({ store, logger: silentLogger, liveAuthRecheckMs: 1.5 })).toThrow(ConfigError);
  });
});
