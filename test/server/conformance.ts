import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullResponseSchema, pushResponseSchema, type PullResponse, type PushRequest } from '../../src/core/protocol.ts';
import { SyncError } from '../../src/server/errors.ts';
import { PULL_MAX_BYTES } from '../../src/server/store/read-pull.ts';
import { toPullResponse, type LogStore, type PushResult } from '../../src/server/store/types.ts';
import { describePg, freshLog, makeEvent, makePush, TestClient } from './helpers.ts';

export interface StoreFixture {
  store: LogStore;
  /**
   * A second store on the same storage, as another server process would open it
   * (its own connections). The concurrency tests push and pull through both, so
   * the per-log lock is exercised across processes, not only within one.
   */
  peer?: LogStore;
  teardown?: () => Promise<void>;
}

/** What a refused push throws: a SyncError with this code; returns its details. */
async function refused(promise: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).code).toBe(code);
    return (error as SyncError).details;
  }
  throw new Error(`expected ${code}, but the push was accepted`);
}

/**
 * The LogStore contract. Every store implementation runs this same suite; one
 * store per suite, one fresh log per test (logs are independent tenants).
 */
export function describeLogStoreConformance(name: string, setup: () => Promise<StoreFixture>, needs: { postgres?: boolean } = {}): void {
  (needs.postgres ? describePg : describe)(`LogStore conformance: ${name}`, () => {
    let fixture: StoreFixture;
    let store: LogStore;
    /** store, or (for odd n) the peer store when there is one. */
    let via: (n: number) => LogStore;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
      via = (n) => (n % 2 === 1 && fixture.peer ? fixture.peer : store);
    });
    afterAll(async () => {
      await fixture?.peer?.close();
      await store?.close();
      await fixture?.teardown?.();
    });

    const pull = async (log: string, after = 0, limit = 1000, clientId?: string): Promise<PullResponse> =>
      pullResponseSchema.parse(toPullResponse(await store.pull(log, { after, limit, clientId })));

    const pullEverything = async (log: string): Promise<PullResponse['events']> => {
      const out: PullResponse['events'] = [];
      let after = 0;
      for (;;) {
        const page = await pull(log, after, 1000);
        out.push(...page.events);
        after += page.events.length;
        if (!page.hasMore) return out;
      }
    };

    const push = async (log: string, request: PushRequest): Promise<PushResult> => {
      const result = await store.push(log, request);
      pushResponseSchema.parse(result);
      return result;
    };

    /** Head, clientSeq mark and events of a log: what "stores nothing" compares. */
    const snapshot = async (log: string, clientIds: string[]) => ({
      head: await store.head(log),
      marks: await Promise.all(clientIds.map((c) => store.clientSeq(log, c))),
      events: await pullEverything(log),
    });

    it('an unknown log is empty: head 0, nothing to pull, clientSeq 0', async () => {
      const log = freshLog();
      expect(await store.head(log)).toBe(0);
      expect(await store.clientSeq(log, 'nobody')).toBe(0);
      expect(await pull(log, 0, 10, 'nobody')).toEqual({ events: [], head: 0, hasMore: false, clientSeq: 0 });
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('a push gets the next gapless positions, and pull returns the events as pushed, with their positions', async () => {
      const log = freshLog();
      const a = new TestClient('client-a');
      const first = a.next(['o1', 'o1', 'o2']);
      first.events[0]!.data = { text: 'héllo ✓ \u2028 "quoted"', nested: { list: [1, 2.5, -3e-7, null, true] }, big: 12345678901234 };
      const r1 = await push(log, first);
      expect(r1).toMatchObject({ duplicates: 0, clientSeq: 3, head: 3, appended: 3 });
      expect(r1.positions).toEqual([
        { id: 'client-a:1', clientSeq: 1, position: 1 },
        { id: 'client-a:2', clientSeq: 2, position: 2 },
        { id: 'client-a:3', clientSeq: 3, position: 3 },
      ]);
      const r2 = await push(log, a.next(['o2']));
      expect(r2.positions).toEqual([{ id: 'client-a:4', clientSeq: 4, position: 4 }]);
      expect(r2.head).toBe(4);

      const page = await pull(log, 0, 100, 'client-a');
      expect(page.head).toBe(4);
      expect(page.hasMore).toBe(false);
      expect(page.clientSeq).toBe(4);
      expect(page.events.map((e) => e.position)).toEqual([1, 2, 3, 4]);
      expect(page.events.slice(0, 3)).toEqual(first.events.map((e, i) => ({ ...e, position: i + 1 })));
      expect(await store.head(log)).toBe(4);
      expect(await store.clientSeq(log, 'client-a')).toBe(4);
    });

    it('logs are independent: each has its own positions, heads and clientSeq marks', async () => {
      const [l1, l2] = [freshLog(), freshLog()];
      const c1 = new TestClient('same-client');
      const c2 = new TestClient('same-client');
      await push(l1, c1.next(['x', 'x']));
      const r = await push(l2, c2.next(['x']));
      expect(r.positions).toEqual([{ id: 'same-client:1', clientSeq: 1, position: 1 }]);
      expect(await store.head(l1)).toBe(2);
      expect(await store.head(l2)).toBe(1);
      expect(await store.clientSeq(l2, 'same-client')).toBe(1);
    });

    it('retrying a committed range is acknowledged with the stored positions and stores nothing twice', async () => {
      const log = freshLog();
      const other = new TestClient('other');
      await push(log, other.next(['z']));
      const a = new TestClient('a');
      const range = a.next(['o1', 'o2', 'o1']);
      const first = await push(log, range);
      await push(log, other.next(['z']));
      const retry = await push(log, range);
      expect(retry.positions).toEqual(first.positions);
      expect(retry).toMatchObject({ duplicates: 3, appended: 0, clientSeq: 3, head: 5 });
      const events = await pullEverything(log);
      expect(events.map((e) => e.id)).toEqual(['other:1', 'a:1', 'a:2', 'a:3', 'other:2']);
    });

    it('a range overlapping the applied mark applies only from the first unseen clientSeq', async () => {
      const log = freshLog();
      const e = (clientSeq: number, seq: number) => makeEvent({ clientId: 'a', clientSeq, aggregateId: 'o', seq });
      await push(log, makePush('a', 1, [e(1, 1), e(2, 2), e(3, 3)]));
      const r = await push(log, makePush('a', 2, [e(2, 2), e(3, 3), e(4, 4), e(5, 5)]));
      expect(r).toMatchObject({ duplicates: 2, appended: 2, clientSeq: 5, head: 5 });
      expect(r.positions.map((p) => [p.clientSeq, p.position])).toEqual([
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ]);
      expect((await pullEverything(log)).map((x) => x.meta.clientSeq)).toEqual([1, 2, 3, 4, 5]);
    });

    it('a range that leaves a gap is refused with the clientSeq the server expects, and stores nothing', async () => {
      const log = freshLog();
      const e = (clientSeq: number) => makeEvent({ clientId: 'a', clientSeq, aggregateId: `o${clientSeq}`, seq: 1 });
      expect(await refused(store.push(log, makePush('a', 2, [e(2)])), 'CLIENT_SEQ_GAP')).toMatchObject({ expected: 1, from: 2 });
      await push(log, makePush('a', 1, [e(1), e(2)]));
      const before = await snapshot(log, ['a']);
      const details = await refused(store.push(log, makePush('a', 4, [e(4), e(5)])), 'CLIENT_SEQ_GAP');
      expect(details).toMatchObject({ clientId: 'a', expected: 3, from: 4, to: 5 });
      expect(await snapshot(log, ['a'])).toEqual(before);
    });

    it("an event whose seq is not its aggregate's next is a SEQ_CONFLICT naming aggregate, seq and head; nothing of the push is stored", async () => {
      const log = freshLog();
      const a = new TestClient('a');
      const b = new TestClient('b');
      await push(log, a.next(['order-1', 'order-1']));
      // b also wrote order-1 seq 1 offline, plus an event to another aggregate before it.
      const conflicting = b.next(['order-2', 'order-1']);
      const before = await snapshot(log, ['a', 'b']);
      const details = await refused(store.push(log, conflicting), 'SEQ_CONFLICT');
      expect(details).toMatchObject({ aggregateId: 'order-1', seq: 1, head: 2, expected: 3, id: 'b:2', clientSeq: 2 });
      expect(await snapshot(log, ['a', 'b'])).toEqual(before);

      // Seq running ahead (a gap inside the aggregate) is refused the same way.
      const ahead = makePush('c', 1, [makeEvent({ clientId: 'c', clientSeq: 1, aggregateId: 'order-1', seq: 5 })]);
      expect(await refused(store.push(log, ahead), 'SEQ_CONFLICT')).toMatchObject({ aggregateId: 'order-1', seq: 5, head: 2, expected: 3 });
      // Within one push, events of one aggregate must follow each other.
      const skipping = makePush('c', 1, [
        makeEvent({ clientId: 'c', clientSeq: 1, aggregateId: 'fresh', seq: 1 }),
        makeEvent({ clientId: 'c', clientSeq: 2, aggregateId: 'fresh', seq: 3 }),
      ]);
      expect(await refused(store.push(log, skipping), 'SEQ_CONFLICT')).toMatchObject({
        aggregateId: 'fresh',
        seq: 3,
        head: 0,
        expected: 2,
      });
      expect(await snapshot(log, ['a', 'b', 'c'])).toEqual({ ...before, marks: [...before.marks, 0] });
    });

    it('the rebase contract: after SEQ_CONFLICT the client pulls, re-sequences after the server and renumbers from the mark + 1', async () => {
      const log = freshLog();
      const a = new TestClient('a');
      const b = new TestClient('b');
      await push(log, b.next(['shared'])); // b: clientSeq 1 applied
      a.seqs.set('shared', 1); // a has pulled b's event
      await push(log, a.next(['shared', 'shared'])); // a wins seq 2, 3
      const pending = b.next(['shared', 'mine']); // b thinks shared is at 1: seq 2 -> conflict
      expect(await refused(store.push(log, pending), 'SEQ_CONFLICT')).toMatchObject({ aggregateId: 'shared', seq: 2, head: 3 });

      const page = await pull(log, 0, 100, 'b');
      expect(page.clientSeq).toBe(1);
      const serverHead = Math.max(...page.events.filter((e) => e.aggregateId === 'shared').map((e) => e.seq));
      const rebased = pending.events.map((e, i) => ({
        ...e,
        seq: e.aggregateId === 'shared' ? serverHead + 1 : e.seq,
        meta: { ...e.meta, clientSeq: page.clientSeq! + 1 + i },
      }));
      const r = await push(log, makePush('b', page.clientSeq! + 1, rebased));
      expect(r).toMatchObject({ duplicates: 0, clientSeq: 3, head: 5 });
      const events = await pullEverything(log);
      expect(events.filter((e) => e.aggregateId === 'shared').map((e) => [e.id, e.seq])).toEqual([
        ['b:1', 1],
        ['a:1', 2],
        ['a:2', 3],
        ['b:2', 4],
      ]);
    });

    it('an id already stored for another client or clientSeq is DUPLICATE_EVENT_ID; so is an id twice in one push', async () => {
      const log = freshLog();
      await push(log, makePush('a', 1, [makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1, id: 'evt-1' })]));
      const before = await snapshot(log, ['a', 'b']);
      const stolen = makePush('b', 1, [
        makeEvent({ clientId: 'b', clientSeq: 1, aggregateId: 'p', seq: 1 }),
        makeEvent({ clientId: 'b', clientSeq: 2, aggregateId: 'o', seq: 2, id: 'evt-1' }),
      ]);
      expect(await refused(store.push(log, stolen), 'DUPLICATE_EVENT_ID')).toMatchObject({
        id: 'evt-1',
        clientSeq: 2,
        storedClientId: 'a',
        storedClientSeq: 1,
        position: 1,
      });
      const sameClientNewSeq = makePush('a', 2, [makeEvent({ clientId: 'a', clientSeq: 2, aggregateId: 'o', seq: 2, id: 'evt-1' })]);
      expect(await refused(store.push(log, sameClientNewSeq), 'DUPLICATE_EVENT_ID')).toMatchObject({ id: 'evt-1', storedClientSeq: 1 });
      const twice = makePush('b', 1, [
        makeEvent({ clientId: 'b', clientSeq: 1, aggregateId: 'q', seq: 1, id: 'evt-2' }),
        makeEvent({ clientId: 'b', clientSeq: 2, aggregateId: 'q', seq: 2, id: 'evt-2' }),
      ]);
      expect(await refused(store.push(log, twice), 'DUPLICATE_EVENT_ID')).toMatchObject({ id: 'evt-2', clientSeq: 2 });
      expect(await snapshot(log, ['a', 'b'])).toEqual(before);
    });

    it('an applied clientSeq re-sent with another event id is CLIENT_SEQ_MISMATCH, and nothing is stored', async () => {
      const log = freshLog();
      await push(log, makePush('a', 1, [makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1, id: 'first' })]));
      const before = await snapshot(log, ['a']);
      const stale = makePush('a', 1, [
        makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1, id: 'dropped-by-rebase' }),
        makeEvent({ clientId: 'a', clientSeq: 2, aggregateId: 'o', seq: 2, id: 'next' }),
      ]);
      expect(await refused(store.push(log, stale), 'CLIENT_SEQ_MISMATCH')).toMatchObject({
        clientSeq: 1,
        id: 'dropped-by-rebase',
        storedId: 'first',
        position: 1,
      });
      expect(await snapshot(log, ['a'])).toEqual(before);
    });

    it('a fence raises the client epoch, never lowers it, and returns the mark; a push below the epoch is STALE_EPOCH and stores nothing', async () => {
      const log = freshLog();
      await push(log, { ...makePush('a', 1, [makeEvent({ clientId: 'a', clientSeq: 1, aggregateId: 'o', seq: 1 })]), epoch: 0 });
      expect(await store.fence(log, 'a', 3)).toEqual({ epoch: 3, clientSeq: 1 });
      expect(await via(1).fence(log, 'a', 2)).toEqual({ epoch: 3, clientSeq: 1 });
      expect(await store.fence(log, 'never-pushed', 1)).toEqual({ epoch: 1, clientSeq: 0 });
      const before = await snapshot(log, ['a']);
      const stale = makePush('a', 2, [makeEvent({ clientId: 'a', clientSeq: 2, aggregateId: 'o', seq: 2 })]);
      expect(await refused(store.push(log, { ...stale, epoch: 2 }), 'STALE_EPOCH')).toMatchObject({ clientId: 'a', epoch: 2, current: 3 });
      expect(await refused(via(1).push(log, stale), 'STALE_EPOCH')).toMatchObject({ epoch: 0, current: 3 }); // version 1: epoch 0
      expect(await snapshot(log, ['a'])).toEqual(before);
      expect((await push(log, { ...stale, epoch: 3 })).positions).toEqual([{ id: 'a:2', clientSeq: 2, position: 2 }]);
      // Other clients are not affected.
      await push(log, makePush('b', 1, [makeEvent({ clientId: 'b', clientSeq: 1, aggregateId: 'p', seq: 1 })]));
    });

    it('no push judged before a fence is stored after it: pipelined pushes of epoch 0 race a fence (from another process when there is one)', async () => {
      const log = freshLog();
      const outcomes: PromiseSettledResult<PushResult>[] = [];
      let fence: Promise<{ epoch: number; clientSeq: number }> | undefined;
      // 15 rounds of 4 pushes in flight at once (the fast path chains them); the fence goes out after round 2.
      for (let round = 0; round < 15; round++) {
        const batch = Array.from({ length: 4 }, (_, k) => {
          const n = round * 4 + k + 1;
          return store.push(log, { ...makePush('r', n, [makeEvent({ clientId: 'r', clientSeq: n, aggregateId: 'o', seq: n })]), epoch: 0 });
        });
        if (round === 2) fence = via(1).fence(log, 'r', 1);
        outcomes.push(...(await Promise.allSettled(batch)));
      }
      const fenced = await fence!;
      const firstRefused = outcomes.findIndex((o) => o.status === 'rejected');
      const acceptedUpTo = firstRefused < 0 ? outcomes.length : firstRefused;
      // What was accepted is exactly a prefix, and it ends at the mark the fence saw: nothing after the fence.
      expect(acceptedUpTo).toBe(fenced.clientSeq);
      expect(acceptedUpTo).toBeLessThan(outcomes.length);
      for (const o of outcomes.slice(acceptedUpTo)) {
        expect(o.status).toBe('rejected');
        expect(['STALE_EPOCH', 'CLIENT_SEQ_GAP']).toContain(((o as PromiseRejectedResult).reason as SyncError).code);
      }
      expect(await store.head(log)).toBe(fenced.clientSeq);
      expect(await store.clientSeq(log, 'r')).toBe(fenced.clientSeq);
      // With the fenced epoch, the client goes on from the mark.
      const next = fenced.clientSeq + 1;
      const result = await push(log, {
        ...makePush('r', next, [makeEvent({ clientId: 'r', clientSeq: next, aggregateId: 'o', seq: next })]),
        epoch: 1,
      });
      expect(result.positions[0]!.position).toBe(next);
    });

    it('pull pages by position with hasMore, the head and the client mark', async () => {
      const log = freshLog();
      const a = new TestClient('a');
      for (let i = 0; i < 5; i++) await push(log, a.next(['x', 'y', 'z', 'x', 'y']));
      const p1 = await pull(log, 0, 10, 'a');
      const p2 = await pull(log, 10, 10);
      const p3 = await pull(log, 20, 10);
      expect([p1, p2, p3].map((p) => [p.events.length, p.hasMore, p.head])).toEqual([
        [10, true, 25],
        [10, true, 25],
        [5, false, 25],
      ]);
      expect(p1.clientSeq).toBe(25);
      expect(p2.clientSeq).toBeUndefined();
      expect([...p1.events, ...p2.events, ...p3.events].map((e) => e.position)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(await pull(log, 25, 10)).toEqual({ events: [], head: 25, hasMore: false });
      expect(await pull(log, 99, 10)).toEqual({ events: [], head: 25, hasMore: false });
    });

    it('pulls at any position and size return each stored event once, as pushed, across writes of every size and the 1,000 boundaries', async () => {
      const log = freshLog();
      const clients = [new TestClient('p'), new TestClient('q')];
      const pushed: PushRequest['events'] = [];
      // Writes of 7, 500, 493, 1, 1000 and 99 events: stored pages start and end everywhere, one write crosses 1,000 and 2,000.
      for (const [k, size] of [7, 500, 493, 1, 1000, 99].entries()) {
        const request = clients[k % 2]!.next(Array.from({ length: size }, (_, i) => `agg-${i % 37}-${k % 2}`));
        // Text beyond ASCII (and outside the BMP) in some events: the stored texts are cut by JavaScript offsets.
        request.events.forEach((e, i) => {
          if (i % 5 === 0) e.data = { note: `né ${i} 😀 注文` };
        });
        await push(log, request);
        pushed.push(...request.events);
      }
      const head = pushed.length; // 2100
      expect(await store.head(log)).toBe(head);
      const expectAt = (events: PullResponse['events'], after: number) =>
        events.forEach((event, i) => {
          expect(event.position).toBe(after + i + 1);
          expect(event).toEqual({ ...pushed[after + i]!, position: after + i + 1 });
        });
      for (const [after, limit] of [
        [0, 1000],
        [1000, 1000],
        [2000, 1000],
        [0, 5000],
        [3, 7],
        [6, 2],
        [995, 10],
        [999, 1],
        [1000, 1],
        [1499, 600],
        [2099, 10],
      ] as const) {
        const page = await pull(log, after, limit);
        const count = Math.min(limit, head - after);
        expect(page.events.length, `after ${after} limit ${limit}`).toBe(count);
        expect(page.hasMore).toBe(after + count < head);
        expectAt(page.events, after);
      }
      // One at a time over a write boundary and a 1,000 boundary.
      for (let after = 503; after < 510; after++) expectAt((await pull(log, after, 1)).events, after);
      expect((await pullEverything(log)).map((e) => e.id)).toEqual(pushed.map((e) => e.id));
    });

    it('a pull of large events stops after about PULL_MAX_BYTES of them; hasMore leads on, and every event comes once', async () => {
      const log = freshLog();
      const a = new TestClient('big');
      const bulk = 'x'.repeat(200_000);
      const pushed: string[] = [];
      // 48 events of about 200 KB (9.6 MB): more than one pull carries, whatever limit is asked for.
      for (let k = 0; k < 4; k++) {
        const request = a.next(Array.from({ length: 12 }, (_, i) => `big-${i}`));
        request.events.forEach((e, i) => (e.data = { bulk, n: k * 12 + i }));
        await push(log, request);
        pushed.push(...request.events.map((e) => e.id));
      }
      const first = await store.pull(log, { after: 0, limit: 5000 });
      expect(first.hasMore).toBe(true);
      expect(first.eventsJson.length).toBeGreaterThan(0);
      expect(first.eventsJson.length).toBeLessThan(pushed.length);
      // At most the bound plus the page that crossed it (pages hold up to 1 MiB of events).
      expect(first.eventsJson.reduce((n, text) => n + text.length, 0)).toBeLessThanOrEqual(PULL_MAX_BYTES + (1 << 20));
      const ids: string[] = [];
      let after = 0;
      for (let pulls = 0; pulls < 10; pulls++) {
        const page = await pull(log, after, 5000);
        ids.push(...page.events.map((e) => e.id));
        after += page.events.length;
        if (!page.hasMore) break;
      }
      expect(ids).toEqual(pushed);
    });

    it('watchers hear every head move of a push that stored events', async () => {
      const log = freshLog();
      const heard: number[] = [];
      const stop = store.watch((l, head) => {
        if (l === log) heard.push(head);
      });
      const a = new TestClient('a');
      await push(log, a.next(['o', 'o']));
      const again = a.next(['o']);
      await push(log, again);
      await push(log, again); // a duplicate does not move the head
      // Stores shared between processes may report a head twice (locally and by notification); wait for the last.
      for (let i = 0; i < 1000 && !heard.includes(3); i++) await new Promise((r) => setTimeout(r, 10));
      stop();
      expect([...new Set(heard)]).toEqual([2, 3]);
    });

    it('pushes arriving together are judged one by one in arrival order; a refused one does not affect the others', async () => {
      const log = freshLog();
      const ev = (clientId: string, clientSeq: number, aggregateId: string, seq: number, id?: string) =>
        makeEvent({ clientId, clientSeq, aggregateId, seq, ...(id ? { id } : {}) });
      const outcomes = await Promise.allSettled([
        store.push(log, makePush('a', 1, [ev('a', 1, 'x', 1, 'shared-id')])), // accepted
        store.push(log, makePush('b', 1, [ev('b', 1, 'x', 1)])), // x is at 1 now: SEQ_CONFLICT
        store.push(log, makePush('c', 1, [ev('c', 1, 'y', 1, 'shared-id')])), // id taken by a, just now
        store.push(log, makePush('a', 3, [ev('a', 3, 'z', 1)])), // a expects 2: CLIENT_SEQ_GAP
        store.push(log, makePush('a', 2, [ev('a', 2, 'x', 2)])), // accepted
        store.push(log, makePush('a', 1, [ev('a', 1, 'x', 1, 'shared-id'), ev('a', 2, 'x', 2)])), // retry: duplicates
        store.push(log, makePush('b', 1, [ev('b', 1, 'x', 3)])), // b rebased: accepted
      ]);
      const summary = outcomes.map((o) =>
        o.status === 'fulfilled'
          ? { ok: o.value.positions.map((p) => p.position), duplicates: o.value.duplicates }
          : { code: (o.reason as SyncError).code },
      );
      expect(summary).toEqual([
        { ok: [1], duplicates: 0 },
        { code: 'SEQ_CONFLICT' },
        { code: 'DUPLICATE_EVENT_ID' },
        { code: 'CLIENT_SEQ_GAP' },
        { ok: [2], duplicates: 0 },
        { ok: [1, 2], duplicates: 2 },
        { ok: [3], duplicates: 0 },
      ]);
      const events = await pullEverything(log);
      expect(events.map((e) => [e.id, e.aggregateId, e.seq])).toEqual([
        ['shared-id', 'x', 1],
        ['a:2', 'x', 2],
        ['b:1', 'x', 3],
      ]);
      expect([await store.clientSeq(log, 'a'), await store.clientSeq(log, 'b'), await store.clientSeq(log, 'c')]).toEqual([2, 1, 0]);
    });

    it('concurrent retries of one range store it once and all get the same positions', async () => {
      const log = freshLog();
      const a = new TestClient('a');
      await push(log, a.next(['o']));
      const range = a.next(['o', 'p', 'o']);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => via(i).push(log, range)));
      for (const r of results) expect(r.positions).toEqual(results[0]!.positions);
      expect(results.reduce((n, r) => n + r.appended, 0)).toBe(3);
      expect((await pullEverything(log)).map((e) => e.id)).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
    });

    it('concurrent writers of one aggregate: each seq is won once, losers rebase and retry, the aggregate stays gapless', async () => {
      const log = freshLog();
      const writers = 4;
      const perWriter = 6;
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const clientId = `w${w}`;
          let nextClientSeq = 1;
          let known = 0; // the seq this writer believes 'hot' is at
          for (let k = 0; k < perWriter; k++) {
            const event = makeEvent({ clientId, clientSeq: nextClientSeq, aggregateId: 'hot', seq: known + 1, id: `${clientId}-${k}` });
            for (;;) {
              try {
                await via(w + k).push(log, makePush(clientId, nextClientSeq, [event]));
                known = event.seq;
                nextClientSeq++;
                break;
              } catch (error) {
                if (!(error instanceof SyncError) || error.code !== 'SEQ_CONFLICT') throw error;
                conflicts++;
                event.seq = Number(error.details.head) + 1; // re-sequence after the server's head
              }
            }
          }
        }),
      );
      const events = await pullEverything(log);
      expect(events).toHaveLength(writers * perWriter);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: writers * perWriter }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.id)).size).toBe(writers * perWriter);
      expect(conflicts).toBeGreaterThanOrEqual(0);
    });

    it('positions are gapless and visible in commit order: 8 pushers x 50 pushes while 4 pullers poll', async () => {
      const log = freshLog();
      const pushers = 8;
      const pushesEach = 50;
      let pushing = true;
      let expectedTotal = 0;

      const pusherRuns = Array.from({ length: pushers }, async (_, p) => {
        const client = new TestClient(`pusher-${p}`);
        for (let k = 0; k < pushesEach; k++) {
          const size = 1 + ((p + k) % 3);
          const aggregates = Array.from({ length: size }, (_, i) => `agg-${p}-${(k + i) % 4}`);
          const result = await via(p + k).push(log, client.next(aggregates));
          expect(result.appended).toBe(size);
          expectedTotal += size;
        }
      });

      const pullerRuns = Array.from({ length: 4 }, async (_, q) => {
        const seen: { id: string; position: number }[] = [];
        let last = 0;
        for (;;) {
          const done = !pushing;
          const limit = 1 + ((q * 7 + seen.length) % 40);
          const page = pullResponseSchema.parse(toPullResponse(await via(q).pull(log, { after: last, limit })));
          for (const e of page.events) {
            // Never a position at or below one already seen, and never a gap: the next is always last + 1.
            expect(e.position).toBe(last + 1);
            last = e.position;
            seen.push({ id: e.id, position: e.position });
          }
          if (done && !page.hasMore) return seen;
          await new Promise((r) => setImmediate(r));
        }
      });

      await Promise.all(pusherRuns);
      pushing = false;
      const views = await Promise.all(pullerRuns);

      const all = await pullEverything(log);
      expect(all).toHaveLength(expectedTotal);
      expect(all.map((e) => e.position)).toEqual(Array.from({ length: expectedTotal }, (_, i) => i + 1));
      expect(new Set(all.map((e) => e.id)).size).toBe(expectedTotal);
      for (const view of views) {
        expect(view).toEqual(all.map((e) => ({ id: e.id, position: e.position })));
      }
      // Each pusher's events appear in its clientSeq order, and its mark is its last clientSeq.
      for (let p = 0; p < pushers; p++) {
        const mine = all.filter((e) => e.meta.clientId === `pusher-${p}`).map((e) => e.meta.clientSeq);
        expect(mine).toEqual(Array.from({ length: mine.length }, (_, i) => i + 1));
        expect(await store.clientSeq(log, `pusher-${p}`)).toBe(mine.length);
      }
    });
  });
}
