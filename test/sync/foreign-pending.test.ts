// Another device's pending events imported into a store that syncs (importLog of its export: a support
// person moving a broken device's unsynced orders, a bug reproduction): they reach the server only from
// that device. This store never pushes, renumbers, rebases or rejects them, its own events are pushed as
// if they were not there, and the pull that brings them confirmed leaves each id once in the log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventOutcome } from '../../src/client/index.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { model } from '../fixtures/model.ts';
import { logOf, openClient, startServer, type Client, type Harness } from './harness.ts';
import { openChronicleDb } from '../../worker/db.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startServer({ limits: { rateLimit: false } });
});
afterAll(() => harness.close());

const Order = model.aggregates[0];
const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });
const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

/** The server's log: `id@aggregate:seq` in position order. */
async function serverLog(log: string): Promise<string[]> {
  const reply = await fetch(`${harness.url}/v1/logs/${log}/pull?after=0&limit=1000`, { headers: { authorization: 'Bearer test-token' } });
  const body = (await reply.json()) as { events: { id: string; aggregateId: string; seq: number }[] };
  return body.events.map((e) => `${e.id}@${e.aggregateId}:${e.seq}`);
}

/** A device whose network can be switched off: its rounds fail with OFFLINE meanwhile. */
async function device(log: string) {
  const network = { online: false };
  const gated: typeof fetch = (input, init) => (network.online ? fetch(input, init) : Promise.reject(new TypeError('offline')));
  const store = await openClient(harness.url, { log, fetch: gated, noWebSocket: true });
  return { store, network };
}

async function exportOf(store: Client): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of store.exportLog()) lines.push(line);
  return lines;
}

/** The local log as `id@aggregate:seq`, pending ones marked. */
const localLog = async (store: Client) =>
  (await logOf(store)).map((e) => `${e.id}@${e.aggregateId}:${e.seq}${e.position === undefined ? ' pending' : ''}`);

const idsOnce = (log: string[]) => {
  const ids = log.map((line) => line.split('@')[0]);
  return new Set(ids).size === ids.length;
};

describe("another device's pending events imported here", () => {
  it("are never pushed from here; this client's own are; their device pushes them and the pull leaves each id once", async () => {
    const log = 'foreign-pending-push';
    const a = await device(log);
    const b = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    try {
      await a.store.append('o1', [placed('a'), item('a-1')]);
      await b.store.importLog(await exportOf(a.store)).then((r) => expect(r).toEqual({ confirmed: 0, pending: 2 }));
      const theirIds = new Set((await logOf(b.store)).map((e) => e.id));
      const outcomes: EventOutcome[] = [];
      b.store.sync.onOutcome((o) => outcomes.push(...o));
      await new Promise((resolve) => setTimeout(resolve, 5));
      await b.store.append('o2', [placed('b')]);
      // The oldest pending event of this client's is its own, not A's older ones.
      const stored = (await exportOf(b.store)).map((line) => JSON.parse(line) as StoredEvent);
      const { occurredAt } = stored.find((e) => e.aggregateId === 'o2')!.meta;
      expect((await b.store.metrics()).sync).toMatchObject({ pending: 1, oldestPendingAt: occurredAt });
      await b.store.sync.syncNow();
      await b.store.sync.syncNow();

      const mine = (await logOf(b.store)).filter((e) => e.aggregateId === 'o2').map((e) => `${e.id}@o2:1`);
      expect(await serverLog(log)).toEqual(mine);
      expect(await b.store.sync.rejected()).toEqual([]);
      expect(await b.store.sync.status()).toMatchObject({ pending: 0, lastError: null });
      // No outcome of A's events reaches this app: they are not this client's (nor renumbered, rebased or rejected).
      expect(outcomes.filter((o) => theirIds.has(o.id))).toEqual([]);
      // A's events stay here as they were: pending, readable, folded.
      expect((await localLog(b.store)).filter((line) => line.includes('@o1'))).toHaveLength(2);
      expect((await localLog(b.store)).filter((line) => line.endsWith('pending'))).toHaveLength(2);
      expect((await b.store.load(Order, 'o1')).state.total).toBe(10);

      // A comes online and pushes them; B's pull brings them confirmed.
      a.network.online = true;
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      const after = await localLog(b.store);
      expect(idsOnce(after)).toBe(true);
      expect(after.filter((line) => line.endsWith('pending'))).toEqual([]);
      expect(after).toEqual(await serverLog(log));
      expect((await b.store.info()).pendingEvents).toBe(0);
      const { state, version } = await b.store.load(Order, 'o1');
      expect({ version, total: state.total }).toEqual({ version: 2, total: 10 });
    } finally {
      await a.store.dispose();
      await b.store.dispose();
    }
  });

  // An older build's importLog stored them without counting them (no meta.foreignPending): this build never
  // pushes them, so nothing but a count mends that. The round's full pass over the pending area counts them;
  // without it they stayed this client's "pending" for good and a pull that confirmed them left them twice.
  it("counted by the next round when an older build's import left them uncounted", async () => {
    const log = 'foreign-pending-uncounted';
    const a = await device(log);
    const b = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    try {
      await a.store.append('o1', [placed('a'), item('a-1')]);
      await b.store.importLog(await exportOf(a.store));
      const db = await openChronicleDb(b.store.name, { onGone: () => undefined });
      const meta = (await db.get('meta', 'client'))!;
      expect(meta.foreignPending).toEqual({ count: 2, rewrites: meta.pendingRewrites ?? 0 });
      delete meta.foreignPending; // as an older build's importLog leaves it
      await db.put('meta', meta, 'client');
      db.close();
      expect(await b.store.sync.status()).toMatchObject({ pending: 2 });

      await b.store.sync.syncNow();
      expect(await b.store.sync.status()).toMatchObject({ pending: 0, lastError: null });
      expect(await b.store.sync.rejected()).toEqual([]);

      a.network.online = true;
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      const after = await localLog(b.store);
      expect(idsOnce(after)).toBe(true);
      expect(after).toEqual(await serverLog(log));
      expect((await b.store.info()).pendingEvents).toBe(0);
    } finally {
      await a.store.dispose();
      await b.store.dispose();
    }
  });

  it('a pull that brings another event at their seq takes them out of the pending area; they come back confirmed, rebased by their device', async () => {
    const log = 'foreign-pending-conflict';
    const a = await device(log);
    const b = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    const c = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    try {
      // o1 placed and synced everywhere.
      a.network.online = true;
      await a.store.append('o1', [placed('a')]);
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      await c.store.sync.syncNow();
      // A adds an item offline; B imports A's export; C adds another item to o1 first.
      a.network.online = false;
      await a.store.append('o1', [item('from-a')]);
      await b.store.importLog(await exportOf(a.store)).then((r) => expect(r).toEqual({ confirmed: 0, pending: 1 }));
      const outcomes: EventOutcome[] = [];
      b.store.sync.onOutcome((o) => outcomes.push(...o));
      await c.store.append('o1', [item('from-c')]);
      await c.store.sync.syncNow();

      await b.store.sync.syncNow();
      const local = await localLog(b.store);
      expect(outcomes).toEqual([]);
      expect(local).toEqual(await serverLog(log));
      expect(await b.store.sync.rejected()).toEqual([]);
      expect(await b.store.sync.status()).toMatchObject({ pending: 0, lastError: null });
      const loaded = await b.store.load(Order, 'o1');
      expect({ version: loaded.version, lines: Object.keys(loaded.state.lines) }).toEqual({ version: 2, lines: ['from-c'] });

      // A rebases its item after C's and pushes it: B holds it once, confirmed.
      a.network.online = true;
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      const after = await localLog(b.store);
      expect(after).toEqual(await serverLog(log));
      expect(idsOnce(after)).toBe(true);
      const final = await b.store.load(Order, 'o1');
      expect({ version: final.version, lines: Object.keys(final.state.lines).sort() }).toEqual({ version: 3, lines: ['from-a', 'from-c'] });
    } finally {
      await a.store.dispose();
      await b.store.dispose();
      await c.store.dispose();
    }
  });

  it('pulled confirmed before this store pushes anything: each id once, nothing refused', async () => {
    const log = 'foreign-pending-pull-first';
    const a = await device(log);
    const b = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    try {
      await a.store.append('o1', [placed('a'), item('a-1')]);
      await b.store.importLog(await exportOf(a.store));
      a.network.online = true;
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      const after = await localLog(b.store);
      expect(after).toEqual(await serverLog(log));
      expect(await b.store.sync.rejected()).toEqual([]);
      expect((await b.store.info()).pendingEvents).toBe(0);
      expect((await b.store.load(Order, 'o1')).version).toBe(2);
    } finally {
      await a.store.dispose();
      await b.store.dispose();
    }
  });

  it("an own event appended on top of them is rebased after the server's head and pushed; they leave the pending area (no stall)", async () => {
    const log = 'foreign-pending-stacked';
    const a = await device(log);
    const b = { store: await openClient(harness.url, { log, noWebSocket: true }) };
    try {
      await a.store.append('o1', [placed('a'), item('a-1')]);
      await b.store.importLog(await exportOf(a.store));
      // B edits the imported order: its event follows A's two, at seq 3.
      await b.store.append('o1', [item('b-1')]);
      await b.store.append('o2', [placed('b')]);
      await b.store.sync.syncNow();

      expect(await b.store.sync.rejected()).toEqual([]);
      expect(await b.store.sync.status()).toMatchObject({ pending: 0, lastError: null });
      const local = await localLog(b.store);
      expect(local).toEqual(await serverLog(log));
      expect(local.map((line) => line.replace(/^[^@]+/, ''))).toEqual(['@o1:1', '@o2:1']);

      // A pushes later: rebased after B's, its events come back confirmed, each once.
      a.network.online = true;
      await a.store.sync.syncNow();
      await b.store.sync.syncNow();
      const after = await localLog(b.store);
      expect(after).toEqual(await serverLog(log));
      expect(idsOnce(after)).toBe(true);
    } finally {
      await a.store.dispose();
      await b.store.dispose();
    }
  });
});
