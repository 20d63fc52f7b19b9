// A sync round (worker/sync/sync-round.ts) against an in-memory server: how a round that runs out of
// steps ends, what its status says meanwhile, and how many events it pushes at a time after a 413.
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { openChronicleDb, type ChronicleDB, type SyncRecord } from '../../worker/db.ts';
import { createSyncRound } from '../../worker/sync/sync-round.ts';
import { SyncHttpError, type Transport } from '../../worker/sync/transport.ts';
import { initialSyncStatus, type SyncStatus } from '../../worker/types.ts';
import { model } from '../fixtures/model.ts';

/** A server log in memory: pushes are stored in order and come back, with positions, from pulls. */
function memoryServer(options: { maxEventsPerPush?: number; maxRequestEvents?: number; tooBigSku?: string } = {}) {
  const log: StoredEvent[] = [];
  const pushSizes: number[] = [];
  const transport: Transport = {
    async push(_clientId, events) {
      pushSizes.push(events.length);
      const limit = options.maxEventsPerPush ?? Infinity;
      if (events.length > limit) {
        throw new SyncHttpError(413, 'PAYLOAD_TOO_LARGE', 'too many', { what: 'events', count: events.length, limit }, true);
      }
      // A byte limit, as the server says it: of the request, not of a number of events.
      if (events.length > (options.maxRequestEvents ?? Infinity))
        throw new SyncHttpError(413, 'PAYLOAD_TOO_LARGE', 'too big', { what: 'request' }, true);
      const bad = events.findIndex((e) => (e.data as { sku?: string }).sku === options.tooBigSku);
      if (bad >= 0)
        throw new SyncHttpError(413, 'PAYLOAD_TOO_LARGE', 'event too big', { what: 'event', index: bad, id: events[bad]!.id }, true);
      for (const e of events) log.push({ ...e, position: log.length + 1 });
      return { head: log.length, clientSeq: events[events.length - 1]!.meta.clientSeq } as never;
    },
    async fence(_clientId, epoch) {
      const mine = log.map((e) => e.meta.clientSeq);
      return { epoch, clientSeq: mine.length > 0 ? Math.max(...mine) : 0 } as never;
    },
    liveUrl: () => Promise.reject(new Error('no live here')),
    async pull(after, limit) {
      const events = log.slice(after, after + limit);
      return { events, head: log.length, hasMore: after + events.length < log.length };
    },
  };
  return { log, pushSizes, transport };
}

const opened: { db: ChronicleDB; name: string }[] = [];
afterEach(async () => {
  for (const { db, name } of opened.splice(0)) {
    db.close();
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = () => resolve();
    });
  }
});

/** A store's database with `count` pending events (appended by a store, then closed), and its client id. */
async function withPending(count: number): Promise<{ db: ChronicleDB; clientId: string; name: string }> {
  const name = uniqueStoreName('round-steps');
  await appendPending(name, count);
  const db = await openChronicleDb(name, { onGone: () => undefined });
  opened.push({ db, name });
  const clientId = (await db.get('meta', 'client'))!.clientId;
  return { db, clientId, name };
}

/** Appends `count` events to an aggregate of its own in store `name` (pending: nothing syncs them), then closes it. */
async function appendPending(name: string, count: number): Promise<void> {
  const store = await openTestStore({ ...model, name, worker: false });
  const items = Array.from({ length: count }, (_, i) => ({ type: 'ItemAdded' as const, data: { sku: `s${i}`, qty: 1, price: 1 } }));
  if (count > 0) await store.append(`order-${uniqueStoreName('a')}`, items);
  await store.close();
}

/** What status().lastError said when each pull of `transport` was answered (the round's view of it). */
function lastErrorAtEachPull(transport: Transport, status: SyncStatus): (SyncStatus['lastError'] | undefined)[] {
  const seen: (SyncStatus['lastError'] | undefined)[] = [];
  const pull = transport.pull;
  transport.pull = async (...args) => {
    const page = await pull(...args);
    seen.push(status.lastError);
    return page;
  };
  return seen;
}

function roundOn(db: ChronicleDB, clientId: string, transport: Transport, options: { pushLimit: number; maxSteps?: number }) {
  const status: SyncStatus = { ...initialSyncStatus('syncing'), leader: true };
  const states: string[] = [];
  const round = createSyncRound(
    {
      clientId,
      getDb: async () => db,
      publish: () => undefined,
      transport,
      status,
      setStatus: (patch) => {
        Object.assign(status, patch);
        if (patch.state) states.push(patch.state);
      },
      halted: () => false,
    },
    { pullLimit: 100, ...options },
  );
  return { round, status, states };
}

describe('sync round: steps, status and push sizes', () => {
  it('given more pending events than a round has steps for, then it ends as "more", never shown online, and the next rounds finish the push', async () => {
    const { db, clientId } = await withPending(25);
    const server = memoryServer();
    const { round, status, states } = roundOn(db, clientId, server.transport, { pushLimit: 4, maxSteps: 3 });
    expect(await round.run()).toBe('more');
    expect(states).not.toContain('online');
    expect(status.lastSyncAt).toBeNull();
    expect(status.pending).toBe(25 - 12);
    const ends: string[] = [];
    for (let i = 0; i < 5 && ends.at(-1) !== 'done'; i++) ends.push(await round.run());
    expect(ends).toEqual(['more', 'done']);
    expect(states.at(-1)).toBe('online');
    expect(status.pending).toBe(0);
    expect(server.log.map((e) => e.meta.clientSeq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('given a server log longer than a round pulls, then the round ends as "more" before pushing, and the next one goes on from there', async () => {
    const { db, clientId } = await withPending(0);
    const server = memoryServer();
    // Another client's 350 events.
    for (let i = 0; i < 350; i++) {
      server.log.push({
        id: `other-${i}`,
        aggregateId: `o${i % 5}`,
        aggregateType: 'Order',
        seq: Math.floor(i / 5) + 1,
        type: 'ItemAdded',
        version: 2,
        data: { sku: 'x', qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'other', clientSeq: i + 1 },
        position: i + 1,
      });
    }
    const { round, status, states } = roundOn(db, clientId, server.transport, { pushLimit: 10, maxSteps: 2 });
    expect(await round.run()).toBe('more');
    expect(status.confirmedPosition).toBe(200);
    expect(states).not.toContain('online');
    expect(await round.run()).toBe('done');
    expect(status.confirmedPosition).toBe(350);
  });

  it("given the server's limit of events per push, then pushes take exactly that many, not halvings of the refused one", async () => {
    const { db, clientId } = await withPending(20);
    const server = memoryServer({ maxEventsPerPush: 6 });
    const { round } = roundOn(db, clientId, server.transport, { pushLimit: 50 });
    expect(await round.run()).toBe('done');
    // One refused push of all 20, then pushes of 6 (not halvings: 10, 5, 5...).
    expect(server.pushSizes).toEqual([20, 6, 6, 6, 2]);
    expect(server.log).toHaveLength(20);
  });

  it("given the server's limit of events per push and an event too large, then after rejecting it pushes keep to the server's limit", async () => {
    const { db, clientId } = await withPending(20);
    const server = memoryServer({ maxEventsPerPush: 6, tooBigSku: 's13' });
    const { round } = roundOn(db, clientId, server.transport, { pushLimit: 50 });
    expect(await round.run()).toBe('done');
    // 20 refused (limit 6); 6, 6; then 6 holding the large event, refused; after the rejection, 6 again (not 50, refused again).
    expect(server.pushSizes).toEqual([20, 6, 6, 6, 6, 1]);
    expect(server.log).toHaveLength(19);
  });

  it("given a push halved for the server's byte limit, then the next round starts again at the full push size", async () => {
    const { db, clientId, name } = await withPending(20);
    const server = memoryServer({ maxRequestEvents: 8 });
    const { round } = roundOn(db, clientId, server.transport, { pushLimit: 50 });
    expect(await round.run()).toBe('done');
    expect(server.pushSizes).toEqual([20, 10, 5, 5, 5, 5]);
    await appendPending(name, 12);
    server.pushSizes.length = 0;
    expect(await round.run()).toBe('done');
    // Smaller events might have fitted: tried whole first, then halved again (not 5 at a time from the start).
    expect(server.pushSizes).toEqual([12, 6, 6]);
    expect(server.log).toHaveLength(32);
  });

  it('given a failed round that left lastError, then the error clears once the server answers in the next round', async () => {
    const { db, clientId } = await withPending(3);
    const server = memoryServer();
    const { round, status } = roundOn(db, clientId, server.transport, { pushLimit: 10 });
    status.lastError = { code: 'OFFLINE', message: 'the browser is offline' };
    const seen = lastErrorAtEachPull(server.transport, status);
    expect(await round.run()).toBe('done');
    // Cleared by the first page, before the round pushed anything (every later page saw it cleared).
    expect(seen.slice(1).every((e) => e === null)).toBe(true);
    expect(status.lastError).toBeNull();
  });

  it('given a round that failed on a push refusal, then the next round keeps that lastError while it pulls (no flicker to null)', async () => {
    const { db, clientId } = await withPending(3);
    const server = memoryServer();
    const forbidden = new SyncHttpError(403, 'FORBIDDEN', 'this token may not write this log', { log: 'shop' }, true);
    server.transport.push = () => Promise.reject(forbidden);
    const { round, status } = roundOn(db, clientId, server.transport, { pushLimit: 10 });
    status.lastError = { code: 'FORBIDDEN', message: forbidden.message };
    const seen = lastErrorAtEachPull(server.transport, status);
    await expect(round.run()).rejects.toBe(forbidden);
    // The pull was answered, and the push was refused again: an app's "cannot sync" banner stays up.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e?.code === 'FORBIDDEN')).toBe(true);
    expect(status.lastError).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('given a failed round that left lastError in its record, then a round the server answers clears the record too, even one that ends as "more"', async () => {
    const { db, clientId } = await withPending(3);
    const offline = { code: 'OFFLINE', message: 'the browser is offline' };
    await db.put('sync', { serverHead: 0, lastSyncAt: null, lastError: offline }, 'state');
    const { round, status } = roundOn(db, clientId, memoryServer().transport, { pushLimit: 1, maxSteps: 1 });
    status.lastError = offline;
    expect(await round.run()).toBe('more');
    expect(((await db.get('sync', 'state')) as SyncRecord | undefined)?.lastError).toBeNull();
  });
});
