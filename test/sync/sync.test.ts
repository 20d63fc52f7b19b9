import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EventOutcome } from '../../src/client/sync.ts';
import { Order, StrictOrder } from '../fixtures/model.ts';
import { eventually } from '../engine/modes.ts';
import { logOf, openClient, startServer, type Harness } from './harness.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

describe('client sync against a real server', () => {
  it('pushes pending events, confirms them with positions, and another client pulls them', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url);
    try {
      const outcomes: EventOutcome[] = [];
      a.sync.onOutcome((o) => outcomes.push(...o));
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }, item('tea', 2, 3)]);
      await a.sync.syncNow();
      const statusA = await a.sync.status();
      expect(statusA).toMatchObject({ state: 'online', leader: true, pending: 0 });
      expect(statusA.confirmedPosition).toBeGreaterThanOrEqual(2);
      await eventually(() => expect(outcomes.filter((o) => o.status === 'confirmed')).toHaveLength(2));
      await b.sync.syncNow();
      const [logA, logB] = [await logOf(a), await logOf(b)];
      expect(logB).toEqual(logA);
      expect(logA.every((e) => e.position !== undefined)).toBe(true);
      expect((await b.load(Order, 'o1')).state.total).toBe(6);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('asks for push replies without positions (Prefer: return=minimal) and confirms its events by pulling', async () => {
    const pushes: { prefer: string | null; applied: string | null; body: unknown }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/push')) return response;
      const body: unknown = await response.clone().json();
      pushes.push({ prefer: new Headers(init?.headers).get('prefer'), applied: response.headers.get('preference-applied'), body });
      return response;
    };
    const a = await openClient(harness.url, { fetch: recording });
    try {
      await a.append('minimal-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }, item('tea')]);
      await a.sync.syncNow();
      expect(pushes.length).toBeGreaterThan(0);
      for (const push of pushes) {
        expect(push).toMatchObject({ prefer: 'return=minimal', applied: 'return=minimal' });
        expect(push.body).not.toHaveProperty('positions');
      }
      expect(await a.sync.status()).toMatchObject({ pending: 0 });
      const log = (await logOf(a)).filter((e) => e.aggregateId === 'minimal-1');
      expect(log.map((e) => e.position !== undefined)).toEqual([true, true]);
    } finally {
      await a.dispose();
    }
  });

  it('rebases offline edits to the same aggregate: both clients converge on one order', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url);
    try {
      await a.append('shared', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      // Both offline: each adds an item at seq 2.
      await a.sync.pause();
      await b.sync.pause();
      await a.append('shared', [item('from-a', 1, 1)], { expectedVersion: 1 });
      await b.append('shared', [item('from-b', 1, 100)], { expectedVersion: 1 });
      const outcomesB: EventOutcome[] = [];
      b.sync.onOutcome((o) => outcomesB.push(...o));
      await a.sync.resume();
      await a.sync.syncNow();
      await b.sync.resume();
      await b.sync.syncNow();
      await a.sync.syncNow();
      const [logA, logB] = [await logOf(a), await logOf(b)];
      expect(logA).toEqual(logB);
      expect(logA.filter((e) => e.aggregateId === 'shared').map((e) => e.seq)).toEqual([1, 2, 3]);
      await eventually(() => {
        expect(outcomesB.map((o) => o.status)).toContain('rebased');
        expect(outcomesB.at(-1)).toMatchObject({ status: 'confirmed', seq: 3 });
      });
      expect((await a.load(Order, 'shared')).state.total).toBe(101);
      expect((await b.load(Order, 'shared')).state.total).toBe(101);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('applies an aggregate rebase rule: an item added offline to an order shipped meanwhile is rejected, and kept', async () => {
    const a = await openClient(harness.url, { aggregates: [StrictOrder] });
    const b = await openClient(harness.url, { aggregates: [StrictOrder] });
    try {
      await a.append('o9', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.sync.pause();
      await a.append('o9', [{ type: 'OrderShipped', data: { carrier: 'ups' } }]);
      await a.sync.syncNow();
      await b.append('o9', [item('late'), item('later')]);
      const outcomes: EventOutcome[] = [];
      b.sync.onOutcome((o) => outcomes.push(...o));
      await b.sync.resume();
      await b.sync.syncNow();
      await eventually(() => expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(2));
      expect(outcomes.find((o) => o.status === 'rejected')?.reason).toMatch(/shipped/);
      const rejected = await b.sync.rejected();
      expect(rejected.map((r) => r.event.type)).toEqual(['ItemAdded', 'ItemAdded']);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.type)).toEqual(['ItemAdded', 'ItemAdded']);
      // Once the app has shown them, it can let them go.
      await b.sync.dismissRejected([rejected[0]!.id]);
      expect((await b.sync.rejected()).map((r) => r.id)).toEqual([rejected[1]!.id]);
      await b.sync.dismissRejected();
      expect(await b.sync.rejected()).toEqual([]);
      expect((await b.sync.status()).pending).toBe(0);
      expect(await logOf(b)).toEqual(await logOf(a));
      expect((await b.load(StrictOrder, 'o9')).state).toEqual({ shipped: true, items: 0 });
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('behind a gateway whose CORS preflights refuse prefer, it pushes without the header and keeps doing so', async () => {
    const sent: (string | null)[] = [];
    // What a browser does when a preflight does not allow a header: the request never leaves, fetch rejects.
    const gateway: typeof fetch = async (input, init) => {
      if (!String(input).endsWith('/push')) return fetch(input, init);
      const prefer = new Headers(init?.headers).get('prefer');
      sent.push(prefer);
      if (prefer !== null) throw new TypeError('Failed to fetch');
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: gateway });
    try {
      await a.append('gateway-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0, lastError: null });
      await a.append('gateway-1', [item('tea')]);
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0, lastError: null });
      // Asked once, refused, then never again.
      expect(sent[0]).toBe('return=minimal');
      expect(sent.slice(1).length).toBeGreaterThanOrEqual(2);
      expect(sent.slice(1).every((prefer) => prefer === null)).toBe(true);
      const log = (await logOf(a)).filter((e) => e.aggregateId === 'gateway-1');
      expect(log.map((e) => [e.seq, e.position !== undefined])).toEqual([
        [1, true],
        [2, true],
      ]);
    } finally {
      await a.dispose();
    }
  });

  it('a push refused by something in between (a bare 403 page, no error body) rejects nothing and goes through later', async () => {
    let blocked = true;
    const proxy: typeof fetch = async (input, init) => {
      if (blocked && String(input).endsWith('/push')) {
        return new Response('<html><body>Forbidden by the corporate proxy</body></html>', {
          status: 403,
          headers: { 'content-type': 'text/html' },
        });
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: proxy });
    try {
      await a.append('proxy-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }, item('tea'), item('cup')]);
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'HTTP_403' });
      expect(await a.sync.status()).toMatchObject({ pending: 3 });
      expect(await a.sync.rejected()).toEqual([]);
      await a.sync.pause();
      blocked = false;
      await a.sync.resume();
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0 });
      const log = (await logOf(a)).filter((e) => e.aggregateId === 'proxy-1');
      expect(log.map((e) => [e.seq, e.position !== undefined])).toEqual([
        [1, true],
        [2, true],
        [3, true],
      ]);
    } finally {
      await a.dispose();
    }
  });

  it('a server that says hasMore with nothing new gets one more pull, not 10,000: the round fails with SYNC_NO_PROGRESS', async () => {
    let pulls = 0;
    let stuck = true;
    const looping: typeof fetch = async (input, init) => {
      if (stuck && String(input).includes('/pull')) {
        pulls++;
        return Response.json({ events: [], head: 5, hasMore: true });
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: looping });
    try {
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_NO_PROGRESS' });
      expect(pulls).toBeLessThanOrEqual(3);
      await a.sync.pause();
      stuck = false;
      await a.sync.resume();
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ lastError: null });
    } finally {
      await a.dispose();
    }
  });

  it('a server that answers pushes 200 and stores nothing gets a bounded number of them, then SYNC_NO_PROGRESS; nothing is lost', async () => {
    let pushes = 0;
    let swallowing = true;
    const swallow: typeof fetch = async (input, init) => {
      if (swallowing && String(input).endsWith('/push')) {
        pushes++;
        return Response.json({ duplicates: 0, clientSeq: 0, head: 0 }, { headers: { 'preference-applied': 'return=minimal' } });
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: swallow });
    try {
      await a.append('swallowed-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }, item('tea')]);
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_NO_PROGRESS' });
      expect(pushes).toBeGreaterThan(1);
      expect(pushes).toBeLessThanOrEqual(100); // 32 steps a round (a retried round may add as many), not 10,000
      expect(await a.sync.status()).toMatchObject({ pending: 2 });
      await a.sync.pause();
      swallowing = false;
      await a.sync.resume();
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0, lastError: null });
      expect((await logOf(a)).filter((e) => e.aggregateId === 'swallowed-1' && e.position !== undefined)).toHaveLength(2);
    } finally {
      await a.dispose();
    }
  });

  it('a pulled event without what reading it back needs (version, data, aggregateType) is refused, and nothing of its page is stored', async () => {
    const writer = await openClient(harness.url);
    const breakage: ((event: Record<string, unknown>) => void)[] = [
      (e) => delete e.version,
      (e) => delete e.data,
      (e) => delete e.aggregateType,
    ];
    try {
      await writer.append('pulled-bad-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await writer.sync.syncNow();
      for (const [index, breakEvent] of breakage.entries()) {
        const tampering: typeof fetch = async (input, init) => {
          const response = await fetch(input, init);
          if (!String(input).includes('/pull')) return response;
          const page = (await response.json()) as { events: Record<string, unknown>[] };
          const own = page.events.find((e) => e.aggregateId === 'pulled-bad-1');
          if (own) breakEvent(own);
          return Response.json(page);
        };
        const reader = await openClient(harness.url, { fetch: tampering });
        try {
          await expect(reader.sync.syncNow(), String(index)).rejects.toMatchObject({ code: 'VALIDATION' });
          expect(await logOf(reader)).toEqual([]);
        } finally {
          await reader.dispose();
        }
      }
      // A page holding null where an event should be: the page is malformed.
      const nulls: typeof fetch = async (input, init) =>
        String(input).includes('/pull') ? Response.json({ events: [null], head: 1, hasMore: false }) : fetch(input, init);
      const reader = await openClient(harness.url, { fetch: nulls });
      try {
        await expect(reader.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
      } finally {
        await reader.dispose();
      }
    } finally {
      await writer.dispose();
    }
  });

  it('events whose data is any JSON (null, an array, a string, a number: the protocol allows it) are pulled, stored and read back as they are', async () => {
    // Pushed by another program straight to the server, which takes any JSON as data (docs/protocol.md).
    const datas: unknown[] = [null, [1, 'two'], 'text', 7, false];
    const events = datas.map((data, i) => ({
      id: `any-json-${i}`,
      aggregateId: `any-json-${i}`,
      aggregateType: 'Order',
      seq: 1,
      type: 'OrderPlaced',
      version: 1,
      data,
      meta: { occurredAt: 1, clientId: 'any-json-writer', clientSeq: i + 1 },
    }));
    const reply = await fetch(`${harness.url}/v1/logs/orders/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' },
      body: JSON.stringify({ protocolVersion: 2, clientId: 'any-json-writer', from: 1, to: events.length, events }),
    });
    expect(reply.status).toBe(200);
    const reader = await openClient(harness.url);
    try {
      await reader.sync.syncNow();
      const read: unknown[] = [];
      for await (const e of reader.readLog()) if (e.aggregateId.startsWith('any-json-')) read.push(e.data);
      expect(read).toEqual(datas);
      // Sync goes on past them: the reader's own events reach the server and come back confirmed.
      await reader.append('any-json-after', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await reader.sync.syncNow();
      expect(await reader.sync.status()).toMatchObject({ pending: 0, lastError: null });
    } finally {
      await reader.dispose();
    }
  });

  it('a real outage does not make it stop asking for short replies', async () => {
    const sent: (string | null)[] = [];
    let down = true;
    const flaky: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/push')) sent.push(new Headers(init?.headers).get('prefer'));
      if (down && String(input).endsWith('/push')) throw new TypeError('Failed to fetch');
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: flaky });
    try {
      await a.append('outage-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await a.sync.syncNow().catch(() => undefined);
      expect((await a.sync.status()).pending).toBe(1);
      // The push was tried with the header, then without it; both failed, so the header is not to blame.
      expect(sent.slice(0, 2)).toEqual(['return=minimal', null]);
      // Back online, with no push in flight across the switch (the loop retries on its own meanwhile).
      await a.sync.pause();
      down = false;
      sent.length = 0;
      await a.sync.resume();
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0 });
      expect(sent).toEqual(['return=minimal']);
    } finally {
      await a.dispose();
    }
  });

  it('a push that timed out is not sent again at once without the header (a slow server is not a refused header)', async () => {
    const sent: (string | null)[] = [];
    const slow: typeof fetch = async (input, init) => {
      if (!String(input).endsWith('/push')) return fetch(input, init);
      sent.push(new Headers(init?.headers).get('prefer'));
      throw new DOMException('The operation timed out.', 'TimeoutError');
    };
    const a = await openClient(harness.url, { fetch: slow });
    try {
      await a.append('slow-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }]);
      await a.sync.syncNow().catch(() => undefined);
      await a.sync.pause();
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((prefer) => prefer === 'return=minimal')).toBe(true);
      expect((await a.sync.status()).pending).toBe(1);
    } finally {
      await a.dispose();
    }
  });

  it('a push whose response is lost is retried and stored once', async () => {
    let dropNextPushResponse = true;
    const lossyFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/push') && dropNextPushResponse) {
        dropNextPushResponse = false;
        throw new TypeError('network connection lost after the request was sent');
      }
      return response;
    };
    const a = await openClient(harness.url, { fetch: lossyFetch });
    try {
      // The append wakes the sync loop; its push commits on the server but the answer is lost.
      await a.append('lossy', [item('x'), item('y')]);
      await eventually(() => expect(dropNextPushResponse).toBe(false));
      await a.sync.syncNow();
      const log = (await logOf(a)).filter((e) => e.aggregateId === 'lossy');
      expect(log.map((e) => e.seq)).toEqual([1, 2]);
      expect(new Set(log.map((e) => e.position)).size).toBe(2);
      expect((await a.sync.status()).pending).toBe(0);
    } finally {
      await a.dispose();
    }
  });

  it('hears about new events over the live channel without being asked', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url, { live: true });
    try {
      await b.sync.syncNow();
      await a.append('live-1', [item('ping')]);
      await a.sync.syncNow();
      await eventually(async () => expect((await logOf(b)).some((e) => e.aggregateId === 'live-1')).toBe(true), 10_000);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('a round that cannot store what it pulled because the disk is full fails with StorageQuotaError, in syncNow and in lastError; it syncs once there is room', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url);
    const originalPut = IDBObjectStore.prototype.put;
    try {
      await a.append('quota-1', [{ type: 'OrderPlaced', data: { customerId: 'c1' } }, item('tea')]);
      await a.sync.syncNow();
      // b's pages of pulled events (its own database: in-process, the same IndexedDB global) find the disk full.
      IDBObjectStore.prototype.put = function (...args: Parameters<IDBObjectStore['put']>) {
        if (this.name === 'pages') throw new DOMException('', 'QuotaExceededError');
        return originalPut.apply(this, args);
      };
      const error = await b.sync.syncNow().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'StorageQuotaError', code: 'STORAGE_QUOTA' });
      expect((await b.sync.status()).lastError).toMatchObject({
        code: 'STORAGE_QUOTA',
        message: expect.stringMatching(/QuotaExceededError/),
      });
      IDBObjectStore.prototype.put = originalPut;
      await b.sync.syncNow();
      expect(await b.sync.status()).toMatchObject({ state: 'online', lastError: null });
      expect((await logOf(b)).filter((e) => e.aggregateId === 'quota-1')).toHaveLength(2);
    } finally {
      IDBObjectStore.prototype.put = originalPut;
      await a.dispose();
      await b.dispose();
    }
  });

  it("an error the app's getToken throws reaches syncNow as it is, even a DOMException (not taken for a storage failure)", async () => {
    const store = await openClient(harness.url, {
      getToken: async () => {
        throw new DOMException('the token refresh was aborted', 'AbortError');
      },
    });
    try {
      const error = await store.sync.syncNow().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'AbortError', message: 'the token refresh was aborted' });
      expect((await store.sync.status()).lastError).toEqual({ code: 'ERROR', message: 'the token refresh was aborted' });
    } finally {
      await store.dispose();
    }
  });

  it('reports a refused token as an error status and keeps the events pending', async () => {
    const a = await openClient(harness.url, { token: 'wrong' });
    try {
      await a.append('o1', [item('x')]);
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      const status = await a.sync.status();
      expect(status).toMatchObject({ state: 'error', pending: 1 });
      expect(status.lastError?.code).toBe('UNAUTHORIZED');
    } finally {
      await a.dispose();
    }
  });

  it('appends while the server answers 503 wait out its Retry-After and the backoff: not a request each; then it all syncs', async () => {
    let unavailable = true;
    const requests: number[] = [];
    const overloaded: typeof fetch = async (input, init) => {
      if (!unavailable) return fetch(input, init);
      requests.push(Date.now());
      const body = { error: { code: 'UNAVAILABLE', message: 'The database is unavailable', details: { reason: 'store-timeout' } } };
      return new Response(JSON.stringify(body), { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '1' } });
    };
    const a = await openClient(harness.url, { fetch: overloaded, maxBackoffMs: 5_000 });
    try {
      await eventually(() => expect(requests.length).toBeGreaterThanOrEqual(1));
      // A burst of edits, each of which wakes the sync loop.
      for (let i = 0; i < 30; i++) {
        await a.append(`busy-${i % 3}`, [item(`sku-${i}`)]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Each 503 asked for 1 s: at most one more request per second since the first, however slow the burst was
      // (without the backoff: one per append).
      expect(requests.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - requests[0]!) / 950));
      await eventually(() => expect(requests.length).toBeGreaterThanOrEqual(2), 5_000);
      expect(requests[1]! - requests[0]!).toBeGreaterThanOrEqual(950);
      expect((await a.sync.status()).state).toBe('offline');

      unavailable = false;
      await eventually(async () => expect((await a.sync.status()).pending).toBe(0), 15_000);
      const log = (await logOf(a)).filter((e) => e.aggregateId.startsWith('busy-'));
      expect(log).toHaveLength(30);
      expect(log.every((e) => e.position !== undefined)).toBe(true);
    } finally {
      await a.dispose();
    }
  });

  it.skipIf(typeof WebSocket === 'function')(
    'without a WebSocket (Node 20) and no webSocket option, it says once that the live channel is off; live: false says nothing',
    async () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const a = await openClient(harness.url, { live: true, noWebSocket: true });
        const b = await openClient(harness.url, { live: false, noWebSocket: true });
        try {
          await a.sync.syncNow();
          await b.sync.syncNow();
          const said = warn.mock.calls.map((call) => String(call[0])).filter((text) => text.includes('no WebSocket here'));
          expect(said).toHaveLength(1);
          expect(said[0]).toContain("pass sync.webSocket, e.g. (url) => new WebSocket(url) from the 'ws' package, or live: false");
        } finally {
          await a.dispose();
          await b.dispose();
        }
      } finally {
        warn.mockRestore();
      }
    },
  );

  it('a client offline for long, with hundreds of edits to aggregates others edited too, comes back and converges', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url);
    try {
      await b.sync.pause();
      for (let i = 0; i < 300; i++) {
        await b.append(`long-${i % 12}`, [item(`b${i}`, 1, 1)]);
        if (i % 3 === 0) await a.append(`long-${i % 12}`, [item(`a${i}`, 1, 1)]);
      }
      await a.sync.syncNow();
      await b.sync.resume();
      await b.sync.syncNow();
      await a.sync.syncNow();
      const [logA, logB] = [await logOf(a), await logOf(b)];
      expect(logB).toEqual(logA);
      const mine = logA.filter((e) => e.aggregateId.startsWith('long-'));
      expect(mine).toHaveLength(400);
      expect(new Set(mine.map((e) => e.id)).size).toBe(400);
      for (let k = 0; k < 12; k++) {
        const seqs = mine.filter((e) => e.aggregateId === `long-${k}`).map((e) => e.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
  it('an offline appendBatch over many aggregates, its stream entries still waiting to be indexed, rebases and converges', async () => {
    const a = await openClient(harness.url);
    const b = await openClient(harness.url);
    try {
      await b.sync.pause();
      const wide = Array.from({ length: 100 }, (_, i) => `wide-${i}`);
      await b.appendBatch(wide.map((aggregateId) => ({ aggregateId, events: [item('b1', 1, 1), item('b2', 1, 1)] })));
      expect((await b.info()).deferredIndexEntries).toBe(wide.length);
      for (const aggregateId of wide.slice(0, 10)) await a.append(aggregateId, [item('a1', 1, 1)]);
      await a.sync.syncNow();
      await b.sync.resume();
      await b.sync.syncNow();
      await a.sync.syncNow();
      const [logA, logB] = [await logOf(a), await logOf(b)];
      expect(logB).toEqual(logA);
      for (const aggregateId of [wide[0]!, wide[9]!, wide[10]!, wide[99]!]) {
        const seqs = logA.filter((e) => e.aggregateId === aggregateId).map((e) => e.seq);
        expect(seqs).toEqual(aggregateId === wide[0] || aggregateId === wide[9] ? [1, 2, 3] : [1, 2]);
      }
      expect((await b.append(wide[0]!, [item('b3', 1, 1)], { expectedVersion: 3 })).events[0]!.seq).toBe(4);
      expect((await b.append(wide[50]!, [item('b3', 1, 1)], { expectedVersion: 2 })).events[0]!.seq).toBe(3);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});

describe('sync controls', () => {
  it('only one of the stores on one database syncs (a process-wide lock where there are no Web Locks); when it closes another takes over', async () => {
    const first = await openClient(harness.url);
    const second = await openClient(harness.url, { name: first.name });
    try {
      await eventually(async () => expect((await first.sync.status()).leader).toBe(true));
      expect((await second.sync.status()).leader).toBe(false);
      await expect(second.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_STANDBY' });
      // An append through the standby store is pushed by the leader.
      await second.append('lock-1', [item('x')]);
      await eventually(async () => expect((await second.sync.status()).pending).toBe(0));
      await first.close();
      await eventually(async () => expect((await second.sync.status()).leader).toBe(true));
      await second.append('lock-1', [item('y')]);
      await second.sync.syncNow();
      expect((await second.sync.status()).pending).toBe(0);
      const mine = (await logOf(second)).filter((e) => e.aggregateId === 'lock-1');
      expect(mine.map((e) => [e.seq, e.position !== undefined])).toEqual([
        [1, true],
        [2, true],
      ]);
    } finally {
      await second.dispose();
    }
  });

  it('pause during a round: nothing more is sent, pause resolves once the push in flight is answered, the state stays paused', async () => {
    let pushes = 0;
    let held: (() => void) | undefined;
    let holding: Promise<void> | undefined;
    // Holds the next push on the wire until the test lets it go.
    const gated: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/push')) {
        pushes++;
        if (holding) await holding;
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: gated, pushLimit: 2 });
    try {
      await a.sync.syncNow();
      const sent = pushes;
      holding = new Promise<void>((resolve) => (held = resolve));
      await a.append('halt-1', [item('a'), item('b'), item('c'), item('d'), item('e'), item('f')]); // three pushes of two
      await eventually(() => expect(pushes).toBe(sent + 1));
      let paused = false;
      const pausing = a.sync.pause().then(() => (paused = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(paused).toBe(false); // the push in flight is not answered yet
      holding = undefined;
      held!();
      await pausing;
      // The push in flight was answered and confirmed; the round sent nothing after it.
      expect(await a.sync.status()).toMatchObject({ state: 'paused', pending: 4 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pushes).toBe(sent + 1);
      expect((await a.sync.status()).state).toBe('paused');
      await a.sync.resume();
      await a.sync.syncNow();
      expect((await a.sync.status()).pending).toBe(0);
      const log = (await logOf(a)).filter((e) => e.aggregateId === 'halt-1');
      expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(new Set(log.map((e) => e.position)).size).toBe(6);
    } finally {
      await a.dispose();
    }
  });

  it('a pause is kept: a tab opened later and the store reopened stay paused, until resume', async () => {
    const { eventually } = await import('../engine/modes.ts');
    const a = await openClient(harness.url);
    const { name } = a;
    let later: Awaited<ReturnType<typeof openClient>> | undefined;
    let reopened: Awaited<ReturnType<typeof openClient>> | undefined;
    try {
      await a.sync.syncNow();
      await a.sync.pause();
      // Before: a tab opened after the pause synced (it only heard of pauses made while it was open).
      later = await openClient(harness.url, { name });
      expect((await later.sync.status()).state).toBe('paused');
      await a.close();
      await later.append('kept-paused', [item('x')]);
      await expect(later.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PAUSED' });
      await later.close();
      // The next session too (a reload).
      reopened = await openClient(harness.url, { name });
      expect((await reopened.sync.status()).state).toBe('paused');
      expect((await reopened.sync.status()).pending).toBe(1);
      await reopened.sync.resume();
      await eventually(async () => expect((await reopened!.sync.status()).pending).toBe(0));
    } finally {
      await later?.close();
      await a.close();
      if (reopened) await reopened.dispose();
    }
  });

  it('pause from any tab pauses the store, and counts stay true while paused', async () => {
    const a = await openClient(harness.url);
    const otherTab = await openClient(harness.url, { name: a.name });
    try {
      await a.sync.syncNow();
      await otherTab.sync.pause();
      const { eventually } = await import('../engine/modes.ts');
      await eventually(async () => expect((await a.sync.status()).state).toBe('paused'));
      await a.append('paused-1', [item('x'), item('y')]);
      expect((await a.sync.status()).pending).toBe(2);
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PAUSED' });
      await otherTab.sync.resume();
      await eventually(async () => expect((await a.sync.status()).pending).toBe(0));
    } finally {
      await otherTab.close();
      await a.dispose();
    }
  });
});
