// Issue 9, point 2: reactions run side effects once per event, in one tab,
// with a durable processed record, retries, parking and takeover.
import { describe, expect, it } from 'vitest';
import { defineReaction, type ReactionContext } from '../../src/core/reaction.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, OrderShipped, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

interface Delivery {
  id: string;
  sku: string;
  tab: string;
  ctx: ReactionContext;
}

/** A payments reaction that records every charge it is asked to make. */
function payments(
  log: Delivery[],
  tab: string,
  options: {
    on?: 'local' | 'confirmed';
    origin?: 'own' | 'any';
    startFrom?: 'now' | 'beginning';
    fail?: (sku: string, attempt: number) => boolean;
    name?: string;
  } = {},
) {
  return defineReaction({
    name: options.name ?? 'charge',
    events: [ItemAdded, OrderShipped],
    on: options.on,
    origin: options.origin,
    startFrom: options.startFrom,
    maxAttempts: 3,
    backoff: { initialMs: 1, maxMs: 5 },
    handlers: {
      ItemAdded: async (event, ctx) => {
        log.push({ id: event.id, sku: event.data.sku, tab, ctx });
        if (options.fail?.(event.data.sku, ctx.attempt)) throw new Error(`card declined for ${event.data.sku}`);
      },
    },
  });
}

type Opened = Awaited<ReturnType<typeof openTestStore<typeof model.events, typeof model.aggregates>>>;

async function caughtUp(store: Opened) {
  await eventually(async () => {
    const statuses = await store.reactions.status();
    expect(statuses.length).toBeGreaterThan(0);
    for (const status of statuses) expect(status.caughtUp, JSON.stringify(status)).toBe(true);
  }, 10_000);
}

const perId = (log: Delivery[]) => {
  const counts = new Map<string, number>();
  for (const d of log) counts.set(d.id, (counts.get(d.id) ?? 0) + 1);
  return counts;
};

describe.each(modes)('reactions ($mode)', ({ worker }) => {
  it('runs once per event with the event id as idempotency key, not as a redelivery or a replay', async () => {
    const log: Delivery[] = [];
    const store = await openTestStore({ ...model, worker, reactions: [payments(log, 'a')] });
    try {
      const appended = await store.append('o1', [item('a'), item('b')]);
      await store.append('o2', [item('c'), { type: 'OrderShipped', data: { carrier: 'dhl' } }]);
      await eventually(() => expect(log.map((d) => d.sku)).toEqual(['a', 'b', 'c']));
      await caughtUp(store);
      expect(log[0]!.ctx).toEqual({
        reaction: 'charge',
        idempotencyKey: appended.events[0]!.id,
        redelivery: false,
        attempt: 1,
        isReplay: false,
      });
      expect(log.every((d) => d.id === d.ctx.idempotencyKey && !d.ctx.redelivery && !d.ctx.isReplay)).toBe(true);
      const [status] = await store.reactions.status();
      expect(status).toMatchObject({ name: 'charge', on: 'local', leader: true, caughtUp: true, inFlight: null, parked: 0 });
    } finally {
      await store.dispose();
    }
  });

  it('a handler may return a value, a promise of one or another thenable: awaited before the event is recorded, the value ignored', async () => {
    const done: string[] = [];
    const later = <T>(value: () => T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value()), 5));
    const receipt = (sku: string) => () => {
      done.push(sku);
      return { receipt: sku };
    };
    const Receipts = defineReaction({
      name: 'receipts',
      events: [ItemAdded, OrderShipped],
      handlers: {
        // A promise of a value, as a payment provider's `charge` returns; or, for sku "sync", a value, which the
        // type refuses (HandlerResult) but a JavaScript app may return.
        // @ts-expect-error a plain value
        ItemAdded: (event) => (event.data.sku === 'sync' ? receipt('sync')().receipt.length : later(receipt(event.data.sku))),
        // A thenable that is not a Promise (its then() is not PromiseLike's: the type refuses it).
        // @ts-expect-error not PromiseLike
        OrderShipped: (event) => ({
          then: (onFulfilled: (value: unknown) => void) => void later(() => onFulfilled(receipt(event.data.carrier)())),
        }),
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [Receipts] });
    try {
      await store.append('o1', [item('a'), item('sync'), { type: 'OrderShipped', data: { carrier: 'dhl' } }, item('b')]);
      await caughtUp(store);
      // Caught up means recorded as handled, which waits for what the handler returned.
      expect(done).toEqual(['a', 'sync', 'dhl', 'b']);
      const [status] = await store.reactions.status();
      expect(status).toMatchObject({ name: 'receipts', caughtUp: true, inFlight: null, parked: 0 });
    } finally {
      await store.dispose();
    }
  });

  it('a new reaction does not act on history; startFrom "beginning" does, once, flagged isReplay', async () => {
    const first = await openTestStore({ ...model, worker });
    await first.append('old', [item('old-1'), item('old-2')]);
    await first.close();
    const late: Delivery[] = [];
    const full: Delivery[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      name: first.name,
      reactions: [payments(late, 'a', { name: 'late' }), payments(full, 'a', { name: 'full', startFrom: 'beginning' })],
    });
    try {
      await store.append('new', [item('new-1')]);
      await caughtUp(store);
      expect(late.map((d) => d.sku)).toEqual(['new-1']);
      expect(full.map((d) => [d.sku, d.ctx.isReplay])).toEqual([
        ['old-1', true],
        ['old-2', true],
        ['new-1', false],
      ]);
    } finally {
      await store.dispose();
    }
  });

  it('never runs during a replay or a projection rebuild, nor again on reopen', async () => {
    const log: Delivery[] = [];
    const store = await openTestStore({ ...model, worker, projections: [Revenue], reactions: [payments(log, 'a')] });
    try {
      await store.append('o1', [item('a'), item('b')]);
      await caughtUp(store);
      await store.replay({ handler: () => undefined });
      await store.projection(Revenue).rebuild();
      await store.close();
      const reopened = await openTestStore({ ...model, worker, name: store.name, projections: [Revenue], reactions: [payments(log, 'b')] });
      await reopened.append('o1', [item('c')]);
      await caughtUp(reopened);
      expect(log.map((d) => d.sku)).toEqual(['a', 'b', 'c']);
      await reopened.close();
    } finally {
      await store.dispose();
    }
  });

  it('retries a failing handler with backoff, then parks the event; retry and skip unblock it', async () => {
    const log: Delivery[] = [];
    let declining = true;
    const reaction = payments(log, 'a', { fail: (sku) => sku.startsWith('bad') && declining });
    const store = await openTestStore({ ...model, worker, reactions: [reaction] });
    const changes: number[] = [];
    const stop = store.reactions.subscribe(() => changes.push(1));
    try {
      await store.append('o1', [item('ok-1'), item('bad-1'), item('ok-2'), item('bad-2')]);
      await caughtUp(store);
      const bad1 = log.filter((d) => d.sku === 'bad-1');
      expect(bad1.map((d) => [d.ctx.attempt, d.ctx.redelivery])).toEqual([
        [1, false],
        [2, true],
        [3, true],
      ]);
      // The reaction moved on past the parked events.
      expect(log.filter((d) => d.sku === 'ok-2')).toHaveLength(1);
      const parked = await store.reactions.parked();
      expect(parked.map((p) => [p.reaction, p.event.type, p.attempts])).toEqual([
        ['charge', 'ItemAdded', 3],
        ['charge', 'ItemAdded', 3],
      ]);
      expect(parked[0]!.lastError).toMatch(/card declined/);
      expect((await store.reactions.status())[0]!.parked).toBe(2);
      expect(changes.length).toBeGreaterThan(0);

      declining = false;
      const bad1Id = bad1[0]!.id;
      const bad2Id = log.find((d) => d.sku === 'bad-2')!.id;
      await store.reactions.retry('charge', bad1Id);
      await eventually(async () => expect((await store.reactions.parked()).map((p) => p.eventId)).toEqual([bad2Id]));
      expect(log.filter((d) => d.sku === 'bad-1').at(-1)!.ctx).toMatchObject({ attempt: 4, redelivery: true });
      await store.reactions.skip('charge', bad2Id);
      expect(await store.reactions.parked()).toEqual([]);
      const bad2Deliveries = log.filter((d) => d.sku === 'bad-2').length;
      await store.append('o1', [item('ok-3')]);
      await caughtUp(store);
      expect(log.filter((d) => d.sku === 'bad-2')).toHaveLength(bad2Deliveries);
      await expect(store.reactions.skip('charge', bad2Id)).rejects.toMatchObject({ code: 'NOT_PARKED' });
    } finally {
      stop();
      await store.dispose();
    }
  });

  it('skip of an event whose retry is under way is refused (NOT_PARKED, retrying); once that attempt fails it can be skipped', async () => {
    const attempts: number[] = [];
    let outcome: 'decline' | 'hold' = 'decline';
    let release: () => void = () => undefined;
    let held = false;
    const reaction = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 2 },
      handlers: {
        ItemAdded: async (_event, ctx) => {
          attempts.push(ctx.attempt);
          if (outcome === 'decline') throw new Error('card declined');
          held = true;
          await new Promise<void>((resolve) => (release = resolve));
          throw new Error('card declined again');
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [reaction] });
    try {
      const id = (await store.append('o1', [item('x')])).events[0]!.id;
      await eventually(async () => expect((await store.reactions.parked()).map((p) => p.eventId)).toEqual([id]));
      outcome = 'hold';
      await store.reactions.retry('charge', id);
      await eventually(() => expect(held).toBe(true));
      // The retry's handler is running: a skip now would record "skipped" for an event handled all the same.
      await expect(store.reactions.skip('charge', id)).rejects.toMatchObject({ code: 'NOT_PARKED', details: { retrying: true } });
      release();
      await eventually(async () => expect((await store.reactions.parked())[0]).toMatchObject({ eventId: id, attempts: 2 }));
      await store.reactions.skip('charge', id);
      expect(await store.reactions.parked()).toEqual([]);
      expect(attempts).toEqual([1, 2]);
    } finally {
      await store.dispose();
    }
  });

  it('a retry asked again while a retry runs is not lost: if that try fails, the event is tried once more', async () => {
    const attempts: number[] = [];
    let release: () => void = () => undefined;
    let held = false;
    const reaction = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 2 },
      handlers: {
        ItemAdded: async (_event, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) throw new Error('card declined');
          if (ctx.attempt === 2) {
            held = true;
            await new Promise<void>((resolve) => (release = resolve));
            throw new Error('card declined again');
          }
        },
      },
    });
    const store = await openTestStore({ ...model, worker, reactions: [reaction] });
    try {
      const id = (await store.append('o1', [item('x')])).events[0]!.id;
      await eventually(async () => expect((await store.reactions.parked()).map((p) => p.eventId)).toEqual([id]));
      await store.reactions.retry('charge', id);
      await eventually(() => expect(held).toBe(true));
      // The user asks again while the first retry's handler still runs (a second click): that request stands.
      await store.reactions.retry('charge', id);
      release();
      await eventually(async () => expect(await store.reactions.parked()).toEqual([]));
      expect(attempts).toEqual([1, 2, 3]);
    } finally {
      await store.dispose();
    }
  });

  it('an own event parked while pending is not delivered again when the server confirms it; retry delivers it once', async () => {
    const log: Delivery[] = [];
    let declining = true;
    const store = await openTestStore({ ...model, worker, reactions: [payments(log, 'a', { fail: (sku) => sku === 'bad' && declining })] });
    try {
      await store.append('o1', [item('bad')]);
      await caughtUp(store);
      expect(log.map((d) => d.ctx.attempt)).toEqual([1, 2, 3]);
      // The card provider is back, then the server confirms the order (what a sync pull does).
      declining = false;
      const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
      await store.importConfirmed(stored.map((e, i) => ({ ...e, position: i + 1 })));
      await store.append('o1', [item('after')]);
      await eventually(() => expect(log.map((d) => d.sku)).toContain('after'));
      await caughtUp(store);
      expect(log.filter((d) => d.sku === 'bad')).toHaveLength(3);
      expect((await store.reactions.parked()).map((p) => p.eventId)).toEqual([stored[0]!.id]);
      // Retry, as the operator would: one more delivery, flagged, and the event is done with.
      await store.reactions.retry('charge', stored[0]!.id);
      await eventually(async () => expect(await store.reactions.parked()).toEqual([]));
      expect(log.filter((d) => d.sku === 'bad').map((d) => [d.ctx.attempt, d.ctx.redelivery])).toEqual([
        [1, false],
        [2, true],
        [3, true],
        [4, true],
      ]);
    } finally {
      await store.dispose();
    }
  });

  it('on: "confirmed" waits for the server; on: "local" runs at once and not again when the event is confirmed', async () => {
    const local: Delivery[] = [];
    const confirmed: Delivery[] = [];
    const everywhere: Delivery[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [
        payments(local, 'a', { name: 'print' }),
        payments(confirmed, 'a', { name: 'charge', on: 'confirmed' }),
        payments(everywhere, 'a', { name: 'notify', on: 'confirmed', origin: 'any' }),
      ],
    });
    try {
      await store.append('o1', [item('a'), item('b')]);
      await eventually(() => expect(local.map((d) => d.sku)).toEqual(['a', 'b']));
      await caughtUp(store);
      expect(confirmed).toEqual([]);
      // The server confirms them (what a sync pull does): same ids, now with positions.
      const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
      await store.importConfirmed(stored.map((e, i) => ({ ...e, position: i + 1 })));
      await eventually(() => expect(confirmed.map((d) => d.sku)).toEqual(['a', 'b']));
      await caughtUp(store);
      expect(local.map((d) => d.sku)).toEqual(['a', 'b']);
      // Another client's confirmed event is for neither (origin 'own': its own client acts on it), only for origin 'any'.
      await store.importConfirmed([
        { ...stored[0]!, id: 'from-elsewhere', seq: 3, position: 3, meta: { ...stored[0]!.meta, clientId: 'other-client' } },
      ]);
      await eventually(() => expect(everywhere.map((d) => d.id)).toEqual([...stored.map((e) => e.id), 'from-elsewhere']));
      await caughtUp(store);
      expect(local.map((d) => d.sku)).toEqual(['a', 'b']);
      expect(confirmed.map((d) => d.sku)).toEqual(['a', 'b']);
      const counts = [...perId(local).values(), ...perId(confirmed).values(), ...perId(everywhere).values()];
      expect(counts.every((n) => n === 1)).toBe(true);
    } finally {
      await store.dispose();
    }
  });

  it('runs in one tab only: two tabs, each event delivered once; the other tab takes over when the leader closes', async () => {
    const log: Delivery[] = [];
    const a = await openTestStore({ ...model, worker, reactions: [payments(log, 'a')] });
    const b = await openTestStore({ ...model, worker, name: a.name, reactions: [payments(log, 'b')] });
    let c: Opened | undefined;
    try {
      for (let i = 0; i < 10; i++) await (i % 2 ? a : b).append(`o${i}`, [item(`first-${i}`)]);
      await caughtUp(a);
      const leaders = (await Promise.all([a, b].map(async (s) => (await s.reactions.status())[0]!.leader))).filter(Boolean);
      expect(leaders).toHaveLength(1);
      expect(new Set(log.map((d) => d.tab)).size).toBe(1);
      const firstLeader = log[0]!.tab === 'a' ? a : b;
      const other = firstLeader === a ? b : a;
      await firstLeader.close();
      await other.append('later', [item('after-takeover-1')]);
      c = await openTestStore({ ...model, worker, name: a.name, reactions: [payments(log, 'c')] });
      await c.append('later', [item('after-takeover-2')]);
      await eventually(() => expect(log.filter((d) => d.sku.startsWith('after-takeover'))).toHaveLength(2));
      await caughtUp(other);
      expect(log.filter((d) => d.sku.startsWith('after')).every((d) => d.tab !== log[0]!.tab)).toBe(true);
      expect(log).toHaveLength(12);
      expect([...perId(log).values()].every((n) => n === 1)).toBe(true);
    } finally {
      await c?.close();
      const last = a;
      await b.close();
      await last.dispose();
    }
  });

  it('a tab that does not know a reaction (an older app version) does not hold it up', async () => {
    const printed: Delivery[] = [];
    const charged: Delivery[] = [];
    const older = await openTestStore({ ...model, worker, reactions: [payments(printed, 'old', { name: 'print' })] });
    const newer = await openTestStore({
      ...model,
      worker,
      name: older.name,
      reactions: [payments(printed, 'new', { name: 'print' }), payments(charged, 'new', { name: 'charge' })],
    });
    try {
      await older.append('o1', [item('a')]);
      await eventually(() => expect(charged.map((d) => d.sku)).toEqual(['a']));
      await eventually(() => expect(printed.map((d) => [d.sku, d.tab])).toEqual([['a', 'old']]));
      await caughtUp(newer);
    } finally {
      await newer.close();
      await older.dispose();
    }
  });

  // Node reports an EventTarget that collects more than 10 listeners of a kind; a browser says nothing.
  it.runIf(typeof process !== 'undefined' && typeof process.on === 'function')(
    'a handler that keeps failing leaves no listener behind per retry',
    async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
      process.on('warning', onWarning);
      const log: Delivery[] = [];
      const flaky = defineReaction({
        name: 'flaky',
        events: [ItemAdded],
        maxAttempts: 30,
        backoff: { initialMs: 1, maxMs: 1 },
        handlers: {
          ItemAdded: (event, ctx) => {
            log.push({ id: event.id, sku: event.data.sku, tab: 'a', ctx });
            if (ctx.attempt < 15) throw new Error('payment provider down');
          },
        },
      });
      const store = await openTestStore({ ...model, worker, reactions: [flaky] });
      try {
        await store.append('o1', [item('a')]);
        await eventually(() => expect(log.length).toBe(15));
        await new Promise((resolve) => setTimeout(resolve, 20));
        // Before: one abort listener per backoff wait, never removed (MaxListenersExceededWarning after 10).
        expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
      } finally {
        process.off('warning', onWarning);
        await store.dispose();
      }
    },
  );

  it('refuses badly defined reactions', () => {
    expect(() => defineReaction({ name: '', events: [ItemAdded], handlers: {} })).toThrow(/name/);
    expect(() => defineReaction({ name: 'x', events: [ItemAdded], handlers: {}, maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});
