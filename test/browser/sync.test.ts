import { describe, expect, inject, it } from 'vitest';
import { openTestStore } from '../../src/testing/index.ts';
import type { SyncStatus } from '../../src/client/sync.ts';
import { PROTOCOL_VERSION } from '../../src/core/protocol.ts';
import { model, Order } from '../fixtures/model.ts';

const item = (sku: string, price = 1) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price } });
const sync = (log: string) => ({ url: inject('syncUrl'), log, token: 'browser-token', pollIntervalMs: 60_000, initialBackoffMs: 50 });

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('sync in Chromium (engine in a Web Worker)', () => {
  it('two browsers converge through the server, live, with real IndexedDB', async () => {
    const log = `browser-${Date.now().toString(36)}`;
    const a = await openTestStore({ ...model, worker: true, sync: sync(log) });
    const b = await openTestStore({ ...model, worker: true, sync: sync(log) });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('tea', 3)]);
      // b hears of it over the live channel: no syncNow on b.
      await until(async () => (await b.load(Order, 'o1')).version === 2, 'b to receive a’s events');
      await b.append('o1', [item('cake', 4)]);
      await until(async () => (await a.load(Order, 'o1')).state.total === 7, 'a to receive b’s event');
      await until(async () => (await a.sync.status()).pending === 0 && (await b.sync.status()).pending === 0, 'nothing pending');
      const ids = async (s: typeof a) => {
        const out: string[] = [];
        for await (const e of s.readLog()) out.push(`${e.position}:${e.id}`);
        return out;
      };
      expect(await ids(a)).toEqual(await ids(b));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('a page on another origin may ask for a push reply without positions and read that it got one (CORS)', async () => {
    const log = `minimal-${Date.now().toString(36)}`;
    const event = {
      id: `minimal-${Date.now().toString(36)}-1`,
      aggregateId: 'o1',
      aggregateType: 'Order',
      seq: 1,
      type: 'OrderPlaced',
      version: 1,
      data: { customerId: 'c' },
      meta: { occurredAt: Date.now(), clientId: 'page-client', clientSeq: 1 },
    };
    // prefer is not a CORS-safelisted header: Chromium sends a preflight first, which the server must allow.
    const response = await fetch(`${inject('syncUrl')}/v1/logs/${log}/push`, {
      method: 'POST',
      headers: { authorization: 'Bearer browser-token', 'content-type': 'application/json', prefer: 'return=minimal' },
      body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'page-client', from: 1, to: 1, events: [event] }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ duplicates: 0, clientSeq: 1, head: 1 });
    expect(response.headers.get('preference-applied')).toBe('return=minimal');
  });

  it('a rebase goes through while the app keeps appending to other orders (engine on the page, real IndexedDB)', async () => {
    const log = `rebase-busy-${Date.now().toString(36)}`;
    let fences = 0;
    // Each time the client fences before applying its rebase, the app has appended another order meanwhile.
    const hooked: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/fence')) await store.append(`scan-${++fences}`, [{ type: 'OrderPlaced', data: { customerId: 'w' } }]);
      return fetch(input, init);
    };
    const store = await openTestStore({ ...model, worker: false, sync: { ...sync(log), live: false, fetch: hooked } });
    try {
      await store.sync.pause();
      const mine = (await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }])).events[0]!.id;
      // Another device took o1's seq 1 on the server meanwhile.
      const other = {
        id: `${log}-other`,
        aggregateId: 'o1',
        aggregateType: 'Order',
        seq: 1,
        type: 'OrderPlaced',
        version: 1,
        data: { customerId: 'd' },
        meta: { occurredAt: Date.now(), clientId: 'other-device', clientSeq: 1 },
      };
      const pushed = await fetch(`${inject('syncUrl')}/v1/logs/${log}/push`, {
        method: 'POST',
        headers: { authorization: 'Bearer browser-token', 'content-type': 'application/json' },
        body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'other-device', from: 1, to: 1, events: [other] }),
      });
      expect(pushed.status).toBe(200);
      await store.sync.resume();
      await store.sync.syncNow();
      const status = await store.sync.status();
      expect([status.lastError, status.pending, fences]).toEqual([null, 0, 1]);
      const onServer: string[] = [];
      for await (const e of store.readLog()) onServer.push(`${e.position}:${e.aggregateId}@${e.seq}${e.id === mine ? ' (rebased)' : ''}`);
      // The order appended during the fence went in the same push as the rebased event.
      expect(onServer).toEqual(['1:o1@1', '2:o1@2 (rebased)', '3:scan-1@1']);
    } finally {
      await store.dispose();
    }
  });

  for (const worker of [true, false]) {
    it(`behind a gateway whose preflights refuse prefer, the client still pushes (engine ${worker ? 'in a worker' : 'on the page'})`, async () => {
      const log = `gateway-${worker}-${Date.now().toString(36)}`;
      // The gateway does refuse it: Chromium does not send the request.
      await expect(
        fetch(`${inject('strictCorsUrl')}/v1/logs/${log}/push`, {
          method: 'POST',
          headers: { authorization: 'Bearer browser-token', 'content-type': 'application/json', prefer: 'return=minimal' },
          body: '{}',
        }),
      ).rejects.toThrow(TypeError);
      const store = await openTestStore({ ...model, worker, sync: { ...sync(log), url: inject('strictCorsUrl') } });
      try {
        await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }, item('tea')]);
        await store.sync.syncNow();
        expect(await store.sync.status()).toMatchObject({ pending: 0, confirmedPosition: 2, lastError: null });
        await store.append('o1', [item('cake')]);
        await store.sync.syncNow();
        expect(await store.sync.status()).toMatchObject({ pending: 0, confirmedPosition: 3, lastError: null });
      } finally {
        await store.dispose();
      }
    });
  }

  for (const worker of [true, false]) {
    it(`syncNow right after openStore runs the round in the only tab (engine ${worker ? 'in a worker' : 'on the page'})`, async () => {
      // Web Locks grant the sync lock asynchronously: the store is open before its engine leads. A sync asked
      // for then is this tab's to run (it was refused as another tab's, SYNC_STANDBY, in every try).
      for (let i = 0; i < 3; i++) {
        const store = await openTestStore({ ...model, worker, sync: sync(`first-${Date.now().toString(36)}-${i}`) });
        try {
          await store.sync.syncNow();
          expect(await store.sync.status()).toMatchObject({ leader: true, lastError: null });
          await store.append(`o${i}`, [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
          await store.sync.syncNow();
          expect(await store.sync.status()).toMatchObject({ pending: 0, confirmedPosition: 1 });
        } finally {
          await store.dispose();
        }
      }
    });
  }

  it('only one tab syncs a store (Web Lock); when it closes another takes over', async () => {
    const log = `lock-${Date.now().toString(36)}`;
    const first = await openTestStore({ ...model, worker: true, sync: sync(log) });
    const second = await openTestStore({ ...model, worker: true, name: first.name, sync: sync(log) });
    try {
      await until(async () => (await first.sync.status()).leader, 'the first tab to lead');
      const seen: SyncStatus[] = [];
      const stop = second.sync.subscribe((s) => seen.push(s));
      expect((await second.sync.status()).leader).toBe(false);
      // The lock is held elsewhere: a standby tab's syncNow is refused at once, not after a wait.
      const asked = Date.now();
      await expect(second.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_STANDBY' });
      expect(Date.now() - asked).toBeLessThan(2000);
      // An append in the standby tab is pushed by the leader.
      await second.append('o2', [item('x')]);
      await until(async () => (await second.sync.status()).pending === 0, 'the leader to push the standby tab’s event');
      expect(seen.some((s) => s.state === 'online' || s.state === 'syncing')).toBe(true);
      await first.close();
      await until(async () => (await second.sync.status()).leader, 'the second tab to take over');
      await second.append('o2', [item('y')]);
      await until(async () => (await second.sync.status()).pending === 0, 'the new leader to push');
      stop();
    } finally {
      await second.dispose();
    }
  });
});
