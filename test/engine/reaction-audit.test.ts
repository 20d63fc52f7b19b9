// Audit of the reactions' promise (README, Reactions / Delivery guarantees): "an order is processed once and a
// payment charged once, however often the log is replayed, retried, reopened or open in several tabs". Each test
// counts a handler's calls per event id in a situation a real app meets, and says the count it expects.
import { describe, expect, it } from 'vitest';
import { defineReaction, type ReactionContext } from '../../src/core/reaction.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore, uniqueStoreName } from '../../src/testing/index.ts';
import { ItemAdded, model, Revenue } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';
import { openChronicleDb } from '../../worker/db.ts';
import { applyRebase, planRebase } from '../../worker/rebase.ts';
import { deleteStore } from '../../src/client/index.ts';

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

interface Call {
  id: string;
  sku: string;
  tab: string;
  ctx: ReactionContext;
}

type Options = {
  name?: string;
  on?: 'local' | 'confirmed';
  origin?: 'own' | 'any';
  startFrom?: 'now' | 'beginning';
  maxAttempts?: number;
  /** Runs inside the handler, after the call is logged: may await (a slow PSP) or throw (declined). */
  effect?: (call: Call) => void | Promise<void>;
};

/** A charge reaction that logs every call of its handler. */
function charge(log: Call[], tab: string, options: Options = {}) {
  return defineReaction({
    name: options.name ?? 'charge',
    events: [ItemAdded],
    on: options.on,
    origin: options.origin,
    startFrom: options.startFrom,
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { initialMs: 1, maxMs: 5 },
    handlers: {
      ItemAdded: async (event, ctx) => {
        const call = { id: event.id, sku: event.data.sku, tab, ctx };
        log.push(call);
        await options.effect?.(call);
      },
    },
  });
}

type Opened = Awaited<ReturnType<typeof openTestStore<typeof model.events, typeof model.aggregates>>>;

async function caughtUp(store: Opened, timeoutMs = 10_000) {
  await eventually(async () => {
    const statuses = await store.reactions.status();
    expect(statuses.length).toBeGreaterThan(0);
    for (const status of statuses) expect(status.caughtUp, JSON.stringify(status)).toBe(true);
  }, timeoutMs);
}

const countsBySku = (log: Call[]) => {
  const counts: Record<string, number> = {};
  for (const c of log) counts[c.sku] = (counts[c.sku] ?? 0) + 1;
  return counts;
};

/** A promise the test resolves by hand: a handler awaiting the outside world. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a sync pull does when the server confirms these events: the same ids, now with positions. */
async function confirmAll(store: Opened, from = 1) {
  const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
  const pending = stored.filter((e) => e.position === undefined);
  await store.importConfirmed(pending.map((e, i) => ({ ...e, position: from + i })));
  return pending;
}

describe.each(modes)('reaction audit ($mode)', ({ worker }) => {
  // Two tabs, the leader closed while its handler awaits the PSP; the other tab appends meanwhile.
  // Expected: every order charged exactly once, none flagged as a redelivery (a clean close).
  it('two tabs: the leader closed mid-handler, the other takes over; each event once', async () => {
    const log: Call[] = [];
    const psp = gate();
    let holdFirst = true;
    const slow = (call: Call) => (holdFirst && call.sku === 'a1' ? psp.opened : undefined);
    const a = await openTestStore({ ...model, worker, reactions: [charge(log, 'a', { effect: slow })] });
    const b = await openTestStore({ ...model, worker, name: a.name, reactions: [charge(log, 'b', { effect: slow })] });
    try {
      await a.append('o1', [item('a1'), item('a2')]);
      await eventually(() => expect(log.map((c) => c.sku)).toEqual(['a1']));
      const leader = log[0]!.tab === 'a' ? a : b;
      const other = leader === a ? b : a;
      const closing = leader.close();
      await other.append('o2', [item('b1')]);
      await sleep(30);
      // The close waits for the handler in flight; nobody else has been handed a1 meanwhile.
      expect(log.map((c) => c.sku)).toEqual(['a1']);
      holdFirst = false;
      psp.open();
      await closing;
      await caughtUp(other);
      expect(countsBySku(log)).toEqual({ a1: 1, a2: 1, b1: 1 });
      expect(log.some((c) => c.ctx.redelivery)).toBe(false);
    } finally {
      await a.close();
      await b.dispose();
    }
  });

  // A handler that fails on its first attempt; the leader closes during the backoff; the other tab retries it.
  // Expected: two calls of the handler (attempt 1, then attempt 2 flagged redelivery), one success; nothing more.
  it('a failure, then the leader closes during the backoff: the next tab makes attempt 2, once', async () => {
    const log: Call[] = [];
    const effect = (call: Call) => {
      if (call.ctx.attempt === 1) throw new Error('PSP timeout');
    };
    const def = (tab: string) =>
      defineReaction({
        name: 'charge',
        events: [ItemAdded],
        maxAttempts: 5,
        backoff: { initialMs: 400, maxMs: 400 },
        handlers: {
          ItemAdded: async (event, ctx) => {
            const call = { id: event.id, sku: event.data.sku, tab, ctx };
            log.push(call);
            effect(call);
          },
        },
      });
    const a = await openTestStore({ ...model, worker, reactions: [def('a')] });
    const b = await openTestStore({ ...model, worker, name: a.name, reactions: [def('b')] });
    try {
      await a.append('o1', [item('x')]);
      await eventually(() => expect(log).toHaveLength(1));
      await sleep(20);
      const leader = log[0]!.tab === 'a' ? a : b;
      const other = leader === a ? b : a;
      await leader.close();
      await caughtUp(other);
      expect(log.map((c) => [c.tab === log[0]!.tab ? 'leader' : 'other', c.ctx.attempt, c.ctx.redelivery])).toEqual([
        ['leader', 1, false],
        ['other', 2, true],
      ]);
    } finally {
      await a.close();
      await b.dispose();
    }
  });

  // A handler that never settles holds close() (README). Meanwhile no other tab may be handed the same event.
  // Expected: exactly one call for the hung event while it hangs; after it settles, the next tab moves on.
  it('a handler that hangs: the other tab is not handed the same event while close() waits', async () => {
    const log: Call[] = [];
    const forever = gate();
    const hang = (call: Call) => (call.sku === 'hang' ? forever.opened : undefined);
    const a = await openTestStore({ ...model, worker, reactions: [charge(log, 'a', { effect: hang })] });
    const b = await openTestStore({ ...model, worker, name: a.name, reactions: [charge(log, 'b', { effect: hang })] });
    try {
      await b.append('o1', [item('hang'), item('next')]);
      await eventually(() => expect(log).toHaveLength(1));
      const leader = log[0]!.tab === 'a' ? a : b;
      const other = leader === a ? b : a;
      const closing = leader.close();
      await other.append('o2', [item('more')]);
      await sleep(200);
      expect(log.map((c) => c.sku)).toEqual(['hang']);
      forever.open();
      await closing;
      await caughtUp(other);
      expect(countsBySku(log)).toEqual({ hang: 1, next: 1, more: 1 });
    } finally {
      await a.close();
      await b.dispose();
    }
  });

  // An own event handled while pending, the server confirming it while its handler still runs.
  // Expected: one call.
  it('a pending event confirmed while its handler runs is not handed over again', async () => {
    const log: Call[] = [];
    const psp = gate();
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [charge(log, 'a', { effect: (c) => (c.sku === 'slow' ? psp.opened : undefined) })],
    });
    try {
      await store.append('o1', [item('slow'), item('after')]);
      await eventually(() => expect(log).toHaveLength(1));
      await confirmAll(store);
      await sleep(20);
      psp.open();
      await caughtUp(store);
      await store.append('o1', [item('later')]);
      await caughtUp(store);
      expect(countsBySku(log)).toEqual({ slow: 1, after: 1, later: 1 });
    } finally {
      await store.dispose();
    }
  });

  // An own pending event confirmed before the reaction reached it (the reaction is busy with an earlier one).
  // Expected: one call (from the confirmed area), not none, not two; then the reaction is caught up.
  // BUG (fixed in src/client/reaction-runner.ts): the counts were right, but with the pending area emptied by the
  // confirmation the pending checkpoint never moved: status().caughtUp stayed false for good and deleteStore
  // refused with UnfinishedWorkError naming the reaction.
  it('a pending event confirmed before the reaction reached it is delivered once', async () => {
    const log: Call[] = [];
    const psp = gate();
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [charge(log, 'a', { effect: (c) => (c.sku === 'first' ? psp.opened : undefined) })],
    });
    try {
      await store.append('o1', [item('first')]);
      await eventually(() => expect(log).toHaveLength(1));
      await store.append('o2', [item('second'), item('third')]);
      await confirmAll(store);
      psp.open();
      await eventually(() => expect(log).toHaveLength(3));
      await sleep(50);
      expect(countsBySku(log)).toEqual({ first: 1, second: 1, third: 1 });
      // Everything is handled, and nothing is pending any more: the reaction is caught up (status, deleteStore).
      await caughtUp(store);
      await store.close();
      // deleteStore finds no unfinished work (before: UnfinishedWorkError naming the reaction, for good).
      await expect(deleteStore(store.name)).resolves.toMatchObject({ deleted: true });
    } finally {
      await store.dispose();
    }
  });

  // on: 'confirmed': each confirmed once, a second confirmation (the same pull page twice) not again.
  it('on: confirmed — the same pull ingested twice, then a reopen: each event once', async () => {
    const log: Call[] = [];
    const store = await openTestStore({ ...model, worker, reactions: [charge(log, 'a', { on: 'confirmed' })] });
    try {
      await store.append('o1', [item('a'), item('b')]);
      const stored = (await collect(store.exportLog())).map((line) => JSON.parse(line) as StoredEvent);
      const confirmed = stored.map((e, i) => ({ ...e, position: i + 1 }));
      await store.importConfirmed(confirmed);
      await store.importConfirmed(confirmed);
      await caughtUp(store);
      await store.close();
      const reopened = await openTestStore({ ...model, worker, name: store.name, reactions: [charge(log, 'b', { on: 'confirmed' })] });
      await caughtUp(reopened);
      await reopened.close();
      expect(countsBySku(log)).toEqual({ a: 1, b: 1 });
    } finally {
      await store.dispose();
    }
  });

  // The app re-imports its own export (a backup restore into the store that holds it, or twice).
  // Expected: nothing handed over again.
  it('importLog of the store’s own export into itself hands nothing over again', async () => {
    const log: Call[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [charge(log, 'a'), charge(log, 'any', { name: 'notify', origin: 'any' })],
    });
    try {
      await store.append('o1', [item('a')]);
      await confirmAll(store);
      await store.append('o1', [item('b')]);
      await caughtUp(store);
      const lines = await collect(store.exportLog());
      await store.importLog(lines);
      await store.importLog(lines);
      await store.append('o1', [item('c')]);
      await caughtUp(store);
      expect(countsBySku(log)).toEqual({ a: 2, b: 2, c: 2 }); // once per reaction
    } finally {
      await store.dispose();
    }
  });

  // BUG (fixed in src/client/reaction-runner.ts; before: { t1: 2, t2: 2 }): origin 'any', on 'local'. Another device's export, taken while its orders were still pending, is
  // imported here (README: "how an exported log is imported"); the 'any' reaction acts on them as pending events.
  // The server then confirms those same events (the other device synced; this one pulls them).
  // Expected: one call per event on this device ('any' = every client's events, once per device).
  it("origin 'any': another device's pending events imported, then confirmed by a pull, are handled once", async () => {
    const log: Call[] = [];
    const other = await openTestStore({ ...model, worker });
    const store = await openTestStore({ ...model, worker, reactions: [charge(log, 'here', { name: 'notify', origin: 'any' })] });
    try {
      await other.append('theirs', [item('t1'), item('t2')]);
      const exported = await collect(other.exportLog());
      await store.importLog(exported);
      await caughtUp(store);
      expect(countsBySku(log)).toEqual({ t1: 1, t2: 1 });
      // The other device syncs; this one pulls the same events, confirmed.
      const theirs = exported.map((line) => JSON.parse(line) as StoredEvent);
      await store.importConfirmed(theirs.map((e, i) => ({ ...e, position: i + 1 })));
      await caughtUp(store);
      expect(countsBySku(log)).toEqual({ t1: 1, t2: 1 });
    } finally {
      await other.dispose();
      await store.dispose();
    }
  });

  // A replay job and a projection rebuild while the reaction is busy (its handler awaiting).
  // Expected: each event once, never isReplay.
  it('a replay and a projection rebuild while a handler runs do not call the reaction', async () => {
    const log: Call[] = [];
    const psp = gate();
    const store = await openTestStore({
      ...model,
      worker,
      projections: [Revenue],
      reactions: [charge(log, 'a', { effect: (c) => (c.sku === 'slow' ? psp.opened : undefined) })],
    });
    try {
      await store.append('o1', [item('slow'), item('next')]);
      await eventually(() => expect(log).toHaveLength(1));
      const replayed = store.replay({ handler: () => undefined });
      const rebuilt = store.projection(Revenue).rebuild();
      await Promise.all([replayed, rebuilt]);
      psp.open();
      await caughtUp(store);
      expect(countsBySku(log)).toEqual({ slow: 1, next: 1 });
      expect(log.some((c) => c.ctx.isReplay)).toBe(false);
    } finally {
      await store.dispose();
    }
  });

  // Two reactions on the same type: each handles each event once, one's failure does not touch the other.
  it('two reactions on the same type: each once; one parking does not repeat the other', async () => {
    const charges: Call[] = [];
    const mails: Call[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [
        charge(charges, 'a', {
          effect: (c) =>
            void (c.sku === 'bad'
              ? (() => {
                  throw new Error('declined');
                })()
              : undefined),
        }),
        charge(mails, 'a', { name: 'mail' }),
      ],
    });
    try {
      await store.append('o1', [item('good'), item('bad'), item('good2')]);
      await caughtUp(store);
      expect(countsBySku(charges)).toEqual({ good: 1, bad: 3, good2: 1 });
      expect(countsBySku(mails)).toEqual({ good: 1, bad: 1, good2: 1 });
    } finally {
      await store.dispose();
    }
  });

  // A parked event retried from another tab (the one that does not lead the reaction).
  // Expected: the leader makes the retry, once (attempts 1..3, then 4).
  it('a parked event retried from the tab that does not lead: one more call, made by the leader', async () => {
    const log: Call[] = [];
    let declining = true;
    const effect = () => {
      if (declining) throw new Error('declined');
    };
    const a = await openTestStore({ ...model, worker, reactions: [charge(log, 'a', { effect })] });
    const b = await openTestStore({ ...model, worker, name: a.name, reactions: [charge(log, 'b', { effect })] });
    try {
      await a.append('o1', [item('x')]);
      await eventually(async () => expect(await a.reactions.parked()).toHaveLength(1));
      const leaderTab = log[0]!.tab;
      const follower = leaderTab === 'a' ? b : a;
      declining = false;
      await follower.reactions.retry('charge', log[0]!.id);
      await eventually(async () => expect(await a.reactions.parked()).toHaveLength(0));
      await sleep(30);
      expect(log.map((c) => [c.tab === leaderTab, c.ctx.attempt])).toEqual([
        [true, 1],
        [true, 2],
        [true, 3],
        [true, 4],
      ]);
    } finally {
      await b.close();
      await a.dispose();
    }
  });

  // A reaction removed from the app (not forgotten) and added back later: it resumes from its checkpoint.
  // Expected: the events appended while it was gone are handled once; the earlier ones not again.
  it('removed (not forgotten) and added back: resumes from its checkpoint, each event once', async () => {
    const log: Call[] = [];
    const name = uniqueStoreName('audit-readd');
    const first = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'v1')] });
    await first.append('o1', [item('before')]);
    await caughtUp(first);
    await first.close();
    const without = await openTestStore({ ...model, worker, name });
    await without.append('o1', [item('while-gone')]);
    await without.close();
    const back = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'v3')] });
    try {
      await back.append('o1', [item('after')]);
      await caughtUp(back);
      expect(countsBySku(log)).toEqual({ before: 1, 'while-gone': 1, after: 1 });
    } finally {
      await back.dispose();
    }
  });

  // A release that changes a reaction from on: 'local' to on: 'confirmed' (same name): what was handled while pending
  // is not handled again when the server confirms it. Expected: one call each.
  it("a release switching on: 'local' to 'confirmed' does not charge the pending orders again", async () => {
    const log: Call[] = [];
    const name = uniqueStoreName('audit-on-switch');
    const v1 = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'v1')] });
    await v1.append('o1', [item('a'), item('b')]);
    await caughtUp(v1);
    await v1.close();
    const v2 = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'v2', { on: 'confirmed' })] });
    try {
      await confirmAll(v2);
      await v2.append('o1', [item('c')]);
      await confirmAll(v2, 3);
      await caughtUp(v2);
      expect(countsBySku(log)).toEqual({ a: 1, b: 1, c: 1 });
    } finally {
      await v2.dispose();
    }
  });

  // A rebase: another device's event took seq 1 of the order on the server; our two pending events are
  // re-sequenced (one kept, one transformed: same ids) and then confirmed. A third is dropped (rejected).
  // Expected: on 'local', each of ours handled once (the dropped one too: it was in the log); on 'confirmed',
  // the two kept ones once each after confirmation, the dropped one never.
  it('a rebase (keep, transform, drop) then confirmation: local once each, confirmed once each kept one', async () => {
    const local: Call[] = [];
    const confirmed: Call[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [charge(local, 'a', { name: 'print' }), charge(confirmed, 'a', { on: 'confirmed' })],
    });
    try {
      const [keep, transform, drop] = (await store.append('o1', [item('keep'), item('transform'), item('drop')])).events;
      await caughtUp(store);
      const theirs: StoredEvent = {
        ...(JSON.parse((await collect(store.exportLog()))[0]!) as StoredEvent),
        id: 'theirs-1',
        data: { sku: 'theirs', qty: 1, price: 1 },
        meta: { occurredAt: 1, clientId: 'another-device', clientSeq: 1 },
        position: 1,
      };
      await store.importConfirmed([theirs]);
      const db = await openChronicleDb(store.name, { onGone: () => undefined });
      try {
        const plan = await planRebase(db);
        await applyRebase(
          db,
          plan,
          new Map([
            [keep!.id, { action: 'keep' as const }],
            [transform!.id, { action: 'transform' as const, data: { sku: 'transform', qty: 2, price: 10 } }],
            [drop!.id, { action: 'drop' as const, reason: 'out of stock' }],
          ]),
        );
      } finally {
        db.close();
      }
      // The change feed does not hear of a rebase made past the engine: a later append wakes the runner.
      await store.append('o2', [item('wake')]);
      await caughtUp(store);
      expect(countsBySku(local)).toEqual({ keep: 1, transform: 1, drop: 1, wake: 1 });
      await confirmAll(store, 2);
      await caughtUp(store);
      expect(countsBySku(local)).toEqual({ keep: 1, transform: 1, drop: 1, wake: 1 });
      expect(countsBySku(confirmed)).toEqual({ keep: 1, transform: 1, wake: 1 });
    } finally {
      await store.dispose();
    }
  });

  // Own events handled while pending, confirmed, then compacted away (their processed records go with them),
  // then the store reopened. Expected: nothing handed over again.
  it('handled, confirmed, compacted, reopened: nothing handed over again', async () => {
    const log: Call[] = [];
    const store = await openTestStore({
      ...model,
      worker,
      reactions: [charge(log, 'a'), charge(log, 'c', { name: 'c', on: 'confirmed' })],
    });
    try {
      for (let i = 0; i < 5; i++) await store.append(`o${i}`, [item(`s${i}`)]);
      await caughtUp(store);
      await confirmAll(store);
      await caughtUp(store);
      await store.compact({ retention: { maxEvents: 0 }, measure: false });
      expect((await store.info()).compactedEvents).toBe(5);
      await store.close();
      const reopened = await openTestStore({
        ...model,
        worker,
        name: store.name,
        reactions: [charge(log, 'a'), charge(log, 'c', { name: 'c', on: 'confirmed' })],
      });
      await reopened.append('o9', [item('after')]);
      await caughtUp(reopened);
      await reopened.close();
      expect(countsBySku(log)).toEqual({ s0: 2, s1: 2, s2: 2, s3: 2, s4: 2, after: 1 });
    } finally {
      await store.dispose();
    }
  });

  // deleteStore, then a store opened again under the same name. Expected: the new store's reaction starts afresh
  // and does not hand over what the deleted one had (it is gone); what it appends is handled once.
  it('deleteStore then reopen under the same name: each event once', async () => {
    const log: Call[] = [];
    const name = uniqueStoreName('audit-delete');
    const first = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'a')] });
    await first.append('o1', [item('old')]);
    await caughtUp(first);
    await first.close();
    await deleteStore(name, { discardUnfinished: true });
    const again = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'b')] });
    try {
      await again.append('o1', [item('new')]);
      await caughtUp(again);
      expect(countsBySku(log)).toEqual({ old: 1, new: 1 });
    } finally {
      await again.dispose();
    }
  });

  // startFrom 'beginning', on 'confirmed': an own order that was pending when the reaction first registered and is
  // confirmed later is history (README: "events stored before it was first registered ... come once each, with
  // ctx.isReplay: true"). Expected: one call, isReplay true.
  // BUG (fixed: worker/reaction-store.ts keeps nextClientSeq in historyEnd, src/client/reaction-runner.ts reads it):
  // it came with isReplay false, its position being past the confirmed head at registration.
  it("startFrom 'beginning', on 'confirmed': an event pending at registration comes once, flagged isReplay", async () => {
    const log: Call[] = [];
    const name = uniqueStoreName('audit-beginning');
    const v1 = await openTestStore({ ...model, worker, name });
    await v1.append('o1', [item('old')]);
    await v1.close();
    const v2 = await openTestStore({ ...model, worker, name, reactions: [charge(log, 'v2', { on: 'confirmed', startFrom: 'beginning' })] });
    try {
      await v2.append('o1', [item('new')]);
      await confirmAll(v2);
      await caughtUp(v2);
      expect(countsBySku(log)).toEqual({ old: 1, new: 1 });
      expect(log.map((c) => [c.sku, c.ctx.isReplay])).toEqual([
        ['old', true],
        ['new', false],
      ]);
    } finally {
      await v2.dispose();
    }
  });
});

/** Opens a store whose engine runs in a worker the test can terminate (a crash of the engine; the page lives on). */
async function openKillable(name: string, reactions: ReturnType<typeof charge>[]) {
  let spawned: Worker | undefined;
  const { openStore } = await import('../../src/client/index.ts');
  const store = await openStore({
    ...model,
    name,
    reactions,
    worker: () => (spawned = new Worker(new URL('../../worker/index.ts', import.meta.url), { type: 'module' })),
  });
  return { store: store as unknown as Opened, kill: () => spawned!.terminate() };
}

describe.runIf(typeof Worker === 'function')('reaction audit: the engine killed (worker terminated)', () => {
  // The worker of the leading tab dies while its handler awaits the PSP (the page is alive: the handler goes on
  // and charges). The other tab takes over. README: "at most once more after a crash: only the event in flight,
  // flagged ctx.redelivery". Expected: the interrupted event at most twice, the second call flagged, with the
  // same idempotency key; every other event exactly once.
  it('killed while the handler awaits: the other tab hands that one event over once more, flagged', async () => {
    const name = uniqueStoreName('audit-kill-await');
    const log: Call[] = [];
    const psp = gate();
    const effect = (c: Call) => (c.sku === 'slow' && c.ctx.attempt === 1 && !c.ctx.redelivery ? psp.opened : undefined);
    const a = await openKillable(name, [charge(log, 'a', { effect })]);
    const b = await openKillable(name, [charge(log, 'b', { effect })]);
    try {
      await a.store.append('o1', [item('slow'), item('next')]);
      await eventually(() => expect(log).toHaveLength(1));
      const leader = log[0]!.tab === 'a' ? a : b;
      const other = leader === a ? b : a;
      leader.kill();
      await other.store.append('o2', [item('more')]);
      await caughtUp(other.store);
      psp.open(); // the dead tab's charge completes too
      await sleep(50);
      expect(countsBySku(log)).toEqual({ slow: 2, next: 1, more: 1 });
      const slow = log.filter((c) => c.sku === 'slow');
      expect(slow.map((c) => c.ctx.redelivery)).toEqual([false, true]);
      expect(slow[0]!.ctx.idempotencyKey).toBe(slow[1]!.ctx.idempotencyKey);
    } finally {
      await a.store.close();
      await b.store.close();
      await deleteStore(name, { discardUnfinished: true }).catch(() => undefined);
    }
  });

  // The worker dies during the backoff after a failed attempt. Expected: the dead tab calls nothing more; the next
  // session makes attempt 2, flagged: two calls in all.
  it('killed during the backoff after a failure: the next session makes attempt 2, once', async () => {
    const name = uniqueStoreName('audit-kill-backoff');
    const log: Call[] = [];
    const slowBackoff = (tab: string) =>
      defineReaction({
        name: 'charge',
        events: [ItemAdded],
        maxAttempts: 5,
        backoff: { initialMs: 300, maxMs: 300 },
        handlers: {
          ItemAdded: (event, ctx) => {
            log.push({ id: event.id, sku: event.data.sku, tab, ctx });
            if (ctx.attempt === 1) throw new Error('declined');
          },
        },
      });
    const a = await openKillable(name, [slowBackoff('a') as ReturnType<typeof charge>]);
    try {
      await a.store.append('o1', [item('x')]);
      await eventually(() => expect(log).toHaveLength(1));
      await sleep(30); // the failure is noted
      a.kill();
      await sleep(400); // past the backoff: the dead tab must not try again
      expect(log).toHaveLength(1);
      const b = await openKillable(name, [slowBackoff('b') as ReturnType<typeof charge>]);
      await caughtUp(b.store);
      await b.store.close();
      expect(log.map((c) => [c.tab, c.ctx.attempt, c.ctx.redelivery])).toEqual([
        ['a', 1, false],
        ['b', 2, true],
      ]);
    } finally {
      await a.store.close();
      await deleteStore(name, { discardUnfinished: true }).catch(() => undefined);
    }
  });

  // The worker dies while a parked event's retry runs. Expected: the next session retries it once more, flagged
  // (at most once more), and it is done with: parked no more.
  it('killed during a parked event’s retry: retried once more by the next session, then done', async () => {
    const name = uniqueStoreName('audit-kill-retry');
    const log: Call[] = [];
    let declining = true;
    let killOnRetry: (() => void) | undefined;
    const effect = (c: Call) => {
      if (c.ctx.attempt === 4) killOnRetry?.();
      if (declining) throw new Error('declined');
    };
    const a = await openKillable(name, [charge(log, 'a', { effect })]);
    try {
      const id = (await a.store.append('o1', [item('x')])).events[0]!.id;
      await eventually(async () => expect((await a.store.reactions.parked()).map((p) => p.eventId)).toEqual([id]));
      declining = false;
      killOnRetry = a.kill;
      await a.store.reactions.retry('charge', id);
      await eventually(() => expect(log).toHaveLength(4));
      killOnRetry = undefined;
      const b = await openKillable(name, [charge(log, 'b', { effect })]);
      await eventually(async () => expect(await b.store.reactions.parked()).toEqual([]));
      await caughtUp(b.store);
      await b.store.close();
      expect(log.map((c) => [c.tab, c.ctx.attempt, c.ctx.redelivery])).toEqual([
        ['a', 1, false],
        ['a', 2, true],
        ['a', 3, true],
        ['a', 4, true],
        ['b', 4, true],
      ]);
    } finally {
      await a.store.close();
      await deleteStore(name, { discardUnfinished: true }).catch(() => undefined);
    }
  });

  // Killed right after a delivery's bookkeeping landed (the first 'reactions' change this page hears), with more
  // events queued. Expected: every event at most twice, a second call always flagged, at most one such event.
  it('killed right after a record landed: at most the next event once more, flagged', async () => {
    const name = uniqueStoreName('audit-kill-after-record');
    const log: Call[] = [];
    const a = await openKillable(name, [charge(log, 'a', { effect: async () => void (await sleep(5)) })]);
    try {
      const ids = (await a.store.append('o1', [item('e1'), item('e2'), item('e3'), item('e4')])).events.map((e) => e.id);
      let killed = false;
      const stop = a.store.reactions.subscribe(() => {
        if (!killed) {
          killed = true;
          a.kill();
        }
      });
      await eventually(() => expect(killed).toBe(true));
      stop();
      const b = await openKillable(name, [charge(log, 'b')]);
      await caughtUp(b.store);
      await b.store.close();
      const counts = countsBySku(log);
      expect(Object.keys(counts).sort()).toEqual(['e1', 'e2', 'e3', 'e4']);
      expect(Object.values(counts).every((n) => n <= 2)).toBe(true);
      expect(Object.values(counts).filter((n) => n === 2).length).toBeLessThanOrEqual(1);
      for (const id of ids) {
        const calls = log.filter((c) => c.id === id);
        if (calls.length === 2) expect(calls[1]!.ctx.redelivery).toBe(true);
      }
    } finally {
      await a.store.close();
      await deleteStore(name, { discardUnfinished: true }).catch(() => undefined);
    }
  });
});

// More seeds: AUDIT_SEEDS=40 npx vitest run ... (Node only; the browser runs the first three).
const SEEDS = Array.from(
  { length: Number((globalThis as { process?: { env?: Record<string, string> } }).process?.env?.AUDIT_SEEDS ?? 3) },
  (_, i) => i + 1,
);

describe.each(modes)('reaction audit: a randomized day of tabs ($mode)', ({ worker }) => {
  // Three tabs open and close at random while orders are appended in any of them, the server confirms what is
  // pending now and then, and the PSP is slow or declines a first attempt. No crash: clean closes only.
  // Expected: every order charged exactly once (counting successful calls), a failed attempt retried once, and
  // no call flagged as a redelivery unless an earlier attempt of it failed.
  it.each(SEEDS)('seed %i: every order charged exactly once', async (seed) => {
    let state = seed * 7919;
    const random = () => (state = (state * 48271) % 2147483647) / 2147483647;
    const name = uniqueStoreName(`audit-random-${seed}`);
    const log: Call[] = [];
    const succeeded: string[] = [];
    const effect = async (c: Call) => {
      if (random() < 0.3) await sleep(Math.floor(random() * 8));
      if (c.ctx.attempt === 1 && c.sku.endsWith('7')) throw new Error('declined once');
      succeeded.push(c.id);
    };
    const tabs: (Opened | undefined)[] = [undefined, undefined, undefined];
    const open = async (i: number) => {
      tabs[i] = await openTestStore({ ...model, worker, name, reactions: [charge(log, `t${i}`, { effect })] });
    };
    const appended: string[] = [];
    let position = 0;
    try {
      await open(0);
      for (let step = 0; step < 40; step++) {
        const i = Math.floor(random() * 3);
        const roll = random();
        if (!tabs[i]) await open(i);
        else if (roll < 0.15 && tabs.filter(Boolean).length > 1) {
          await tabs[i]!.close();
          tabs[i] = undefined;
        } else if (roll < 0.3) {
          const pending = (await collect(tabs[i]!.exportLog())).map((l) => JSON.parse(l) as StoredEvent).filter((e) => !e.position);
          await tabs[i]!.importConfirmed(pending.map((e, k) => ({ ...e, position: position + k + 1 })));
          position += pending.length;
        } else {
          const sku = `s${step}`;
          appended.push((await tabs[i]!.append(`o${step % 4}`, [item(sku)])).events[0]!.id);
        }
      }
      const last = tabs.find(Boolean)!;
      await eventually(() => expect(new Set(succeeded).size).toBe(appended.length), 20_000);
      await caughtUp(last);
      const perId = new Map<string, number>();
      for (const id of succeeded) perId.set(id, (perId.get(id) ?? 0) + 1);
      expect([...perId.values()].filter((n) => n !== 1)).toEqual([]);
      expect([...perId.keys()].sort()).toEqual([...appended].sort());
      const flaggedWithoutFailure = log.filter((c) => c.ctx.redelivery && !c.sku.endsWith('7'));
      expect(flaggedWithoutFailure.map((c) => c.sku)).toEqual([]);
    } finally {
      for (const tab of tabs) await tab?.close();
      await deleteStore(name, { discardUnfinished: true }).catch(() => undefined);
    }
  });
});
