import { describe, expect, it } from 'vitest';
import {
  ConcurrencyError,
  DuplicateInBatchError,
  EventTooLargeError,
  UnknownEventTypeError,
  UnserializableDataError,
  ValidationError,
  AggregateTypeError,
} from '../../src/core/errors.ts';
import { Order } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

const placed = (customerId = 'c1') => ({ type: 'OrderPlaced' as const, data: { customerId } });
const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

describe.each(modes)('append ($mode)', ({ worker }) => {
  it('appends atomically with gapless seqs and reports the next expected version', async () => {
    const store = await openOrderStore(worker);
    try {
      const first = await store.append('o1', [placed(), item('a', 2, 5)], { expectedVersion: 'no-stream' });
      expect(first.createdNewStream).toBe(true);
      expect(first.nextExpectedVersion).toBe(2);
      expect(first.events.map((e) => e.seq)).toEqual([1, 2]);
      const e0 = first.events[0]!;
      expect(e0.known).toBe(true);
      expect(e0.aggregateType).toBe('Order');
      expect(e0.position).toBeUndefined();
      expect(e0.meta.clientSeq).toBe(1);
      expect(typeof e0.meta.clientId).toBe('string');
      const second = await store.append('o1', [item('b')], { expectedVersion: 2 });
      expect(second.createdNewStream).toBe(false);
      expect(second.events[0]!.seq).toBe(3);
      expect(second.events[0]!.meta.clientSeq).toBe(3);
      const loaded = await store.load(Order, 'o1');
      expect(loaded.version).toBe(3);
      expect(loaded.state.total).toBe(20);
      expect(loaded.state.customerId).toBe('c1');
    } finally {
      await store.dispose();
    }
  });

  it('refuses a wrong expectedVersion with a typed error naming both versions, and writes nothing', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [placed()]);
      const error = await store.append('o1', [item('a')], { expectedVersion: 5 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ code: 'CONCURRENCY', aggregateId: 'o1', expected: 5, actual: 1 });
      const noStream = await store.append('o1', [item('a')], { expectedVersion: 'no-stream' }).catch((e: unknown) => e);
      expect(noStream).toMatchObject({ expected: 'no-stream', actual: 1 });
      expect((await collect(store.readStream('o1'))).length).toBe(1);
      expect((await store.info()).pendingEvents).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it('two stores on one database (two tabs) never append or load from a stale view of each other', async () => {
    const a = await openOrderStore(worker);
    const b = await openOrderStore(worker, { name: a.name });
    try {
      await a.append('o1', [placed()], { expectedVersion: 'no-stream' });
      await a.append('o1', [item('a')], { expectedVersion: 1 }); // a now knows the head is 2
      await b.append('o1', [item('b')], { expectedVersion: 2 });
      // a still believes 2: its append must see b's event, not overwrite or skip it.
      const stale = await a.append('o1', [item('c')], { expectedVersion: 2 }).catch((e: unknown) => e);
      expect(stale).toMatchObject({ code: 'CONCURRENCY', expected: 2, actual: 3 });
      const next = await a.append('o1', [item('c')], { expectedVersion: 'any' });
      expect(next.events[0]!.seq).toBe(4);
      const stream = await collect(a.readStream('o1'));
      expect(stream.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(stream.map((e) => e.meta.clientSeq)).toEqual([1, 2, 3, 4]);
      expect((await b.info()).pendingEvents).toBe(4);

      expect(await a.snapshot(Order, 'o1')).toBe(4);
      expect((await a.load(Order, 'o1')).eventsApplied).toBe(0);
      await b.append('o1', [item('d', 1, 7)], { expectedVersion: 4 });
      const loaded = await a.load(Order, 'o1');
      expect(loaded).toMatchObject({ version: 5, snapshotVersion: 4, eventsApplied: 1 });
      expect(loaded.state.total).toBe(37);
    } finally {
      await b.close();
      await a.dispose();
    }
  });

  it('is idempotent by event id: a repeated id is acknowledged with the stored event, never stored twice', async () => {
    const store = await openOrderStore(worker);
    try {
      const events = [
        { ...placed(), id: 'evt-1' },
        { ...item('a'), id: 'evt-2' },
      ];
      const first = await store.append('o1', events, { expectedVersion: 'no-stream' });
      // The same call retried (e.g. after a crash before the caller saw the result): a no-op.
      const retry = await store.append('o1', events, { expectedVersion: 'no-stream' });
      expect(retry.duplicates).toEqual(['evt-1', 'evt-2']);
      expect(retry.events.map((e) => [e.id, e.seq])).toEqual(first.events.map((e) => [e.id, e.seq]));
      // A repeated id mixed with a new one: only the new one is stored.
      const mixed = await store.append('o1', [
        { ...item('a'), id: 'evt-2' },
        { ...item('b'), id: 'evt-3' },
      ]);
      expect(mixed.duplicates).toEqual(['evt-2']);
      expect(mixed.events.map((e) => e.seq)).toEqual([2, 3]);
      const all = await collect(store.readStream('o1'));
      expect(all.map((e) => e.id)).toEqual(['evt-1', 'evt-2', 'evt-3']);
    } finally {
      await store.dispose();
    }
  });

  it('starting from an empty log, knows new streams are empty until another store on the database writes to them', async () => {
    const store = await openOrderStore(worker);
    const other = await openOrderStore(false, { name: store.name });
    try {
      await store.append('o1', [placed()], { expectedVersion: 'no-stream' });
      await store.append('o2', [placed()], { expectedVersion: 'no-stream' });
      // Another tab writes to a stream this store has never seen.
      await other.append('o3', [placed(), item('x')], { expectedVersion: 'no-stream' });
      const refused = await store.append('o3', [item('y')], { expectedVersion: 'no-stream' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConcurrencyError);
      expect(refused).toMatchObject({ expected: 'no-stream', actual: 2 });
      const next = await store.append('o3', [item('y')], { expectedVersion: 2 });
      expect(next.events[0]!.seq).toBe(3);
      expect((await store.append('o4', [placed()], { expectedVersion: 'no-stream' })).nextExpectedVersion).toBe(1);
    } finally {
      await other.close();
      await store.dispose();
    }
  });

  it('opened on an empty log, trusts that every stream is empty only while no other store has written', async () => {
    const store = await openOrderStore(worker);
    const other = await openOrderStore(false, { name: store.name });
    try {
      // Both opened on an empty log; the other writes first, to a stream this store then appends to.
      await other.append('o3', [placed(), item('x')], { expectedVersion: 'no-stream' });
      const refused = await store.append('o3', [item('y')], { expectedVersion: 'no-stream' }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ expected: 'no-stream', actual: 2 });
      expect(refused).toBeInstanceOf(ConcurrencyError);
      const [batched] = await store.appendBatch([{ aggregateId: 'o3', events: [item('z')] }]);
      expect(batched!.events[0]!.seq).toBe(3);
    } finally {
      await other.close();
      await store.dispose();
    }
  });

  it('returns exactly the events reads give back: new, repeated, linked, and from a batch with repeats', async () => {
    const store = await openOrderStore(worker);
    try {
      const linked = { ...item('l', 3, 7), meta: { correlationId: 'corr-1', causationId: 'cause "1"', occurredAt: 1_700_000_000_000 } };
      const one = await store.append('o1', [placed('c "quoted" é'), linked]);
      const two = await store.append('o1', [{ ...item('b'), id: 'given-1' }], { expectedVersion: 2 });
      const batch = await store.appendBatch([
        { aggregateId: 'o2', events: [placed(), item('x')] },
        { aggregateId: 'o1', events: [{ ...item('b'), id: 'given-1' }, item('c')] },
        { aggregateId: 'o3', events: [item('y')], options: { expectedVersion: 'no-stream' } },
      ]);
      expect(batch[1]!.duplicates).toEqual(['given-1']);
      const returned = [...one.events, ...two.events, ...batch.flatMap((r) => r.events)];
      const read = new Map((await collect(store.readLog())).map((e) => [e.id, e]));
      expect(returned).toHaveLength(8);
      for (const event of returned) expect(event).toEqual(read.get(event.id));
      expect(returned.map((e) => [e.aggregateId, e.seq, e.meta.clientSeq])).toEqual([
        ['o1', 1, 1],
        ['o1', 2, 2],
        ['o1', 3, 3],
        ['o2', 1, 4],
        ['o2', 2, 5],
        ['o1', 3, 3],
        ['o1', 4, 6],
        ['o3', 1, 7],
      ]);
      // Asked twice, the same decoded events.
      expect(one.events).toBe(one.events);
    } finally {
      await store.dispose();
    }
  });

  it('finds a repeated id among many stored events whatever their id order', async () => {
    const store = await openOrderStore(worker);
    try {
      for (let i = 0; i < 30; i++) await store.append(`o${i % 3}`, [{ ...item(`s${i}`), id: `id-${String(30 - i).padStart(3, '0')}` }]);
      // id-015 was appended to o0 as item s15: the same event again is a retry.
      const again = await store.append('o0', [{ ...item('s15'), id: 'id-015' }]);
      expect(again.duplicates).toEqual(['id-015']);
      expect(again.events[0]!.aggregateId).toBe('o0');
      // The same id in another stream is another event reusing it: refused, never acknowledged with o0's event.
      const elsewhere = await store.append('o9', [{ ...item('x'), id: 'id-015' }]).catch((e: unknown) => e);
      expect(elsewhere).toMatchObject({ code: 'EVENT_ID_CONFLICT', storedAggregateId: 'o0' });
      expect((await store.info()).pendingEvents).toBe(30);
    } finally {
      await store.dispose();
    }
  });

  it('coalesces concurrent appends (group commit) without losing or duplicating a seq', async () => {
    const store = await openOrderStore(worker);
    try {
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => store.append('o1', [item(`s${i}`)])));
      const seqs = results.map((r) => r.events[0]!.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const clientSeqs = results.map((r) => r.events[0]!.meta.clientSeq).sort((a, b) => a - b);
      expect(clientSeqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const stream = await collect(store.readStream('o1'));
      expect(stream.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    } finally {
      await store.dispose();
    }
  });

  it('keeps each coalesced call all-or-nothing: conflicting calls fail alone', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [placed()]);
      // Ten writers all believe the stream is at version 1: exactly one may win.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.append('o1', [item(`a${i}`), item(`b${i}`)], { expectedVersion: 1 })),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o) => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(9);
      for (const o of lost) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'CONCURRENCY', actual: 3 });
      const stream = await collect(store.readStream('o1'));
      expect(stream.map((e) => e.seq)).toEqual([1, 2, 3]);
    } finally {
      await store.dispose();
    }
  });

  it('appendBatch writes several streams atomically: one refusal refuses all', async () => {
    const store = await openOrderStore(worker);
    try {
      const ok = await store.appendBatch([
        { aggregateId: 'a', events: [placed('x')] },
        { aggregateId: 'b', events: [placed('y'), item('s')] },
      ]);
      expect(ok.map((r) => r.nextExpectedVersion)).toEqual([1, 2]);
      const error = await store
        .appendBatch([
          { aggregateId: 'a', events: [item('s')], options: { expectedVersion: 1 } },
          { aggregateId: 'b', events: [item('t')], options: { expectedVersion: 99 } },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect((await collect(store.readStream('a'))).length).toBe(1);
      expect((await collect(store.readStream('b'))).length).toBe(2);
    } finally {
      await store.dispose();
    }
  });
});

describe.each(modes)('bad input ($mode)', ({ worker }) => {
  it('rejects each kind of bad event with a typed error before anything is written', async () => {
    const store = await openOrderStore(worker, { maxEventBytes: 2048 });
    try {
      await store.append('o1', [placed()]);
      const attempt = (events: unknown[], options?: object) =>
        store.append('o1', events as never, options as never).then(
          () => {
            throw new Error('expected a rejection');
          },
          (e: unknown) => e,
        );

      const unknownType = await attempt([{ type: 'Refunded', data: {} }]);
      expect(unknownType).toBeInstanceOf(UnknownEventTypeError);
      expect(unknownType).toMatchObject({ eventType: 'Refunded' });

      const badData = await attempt([item('ok'), { type: 'ItemAdded', data: { sku: 'a', qty: -1, price: 1 } }]);
      expect(badData).toBeInstanceOf(ValidationError);
      expect(badData).toMatchObject({ eventType: 'ItemAdded', path: 'data.qty', index: 1 });
      expect((badData as ValidationError).reason).toMatch(/>|greater|positive/i);

      const missing = await attempt([{ type: 'OrderPlaced', data: {} }]);
      expect(missing).toMatchObject({ code: 'VALIDATION', path: 'data.customerId' });

      const tooBig = await attempt([{ type: 'OrderShipped', data: { carrier: 'x'.repeat(5000) } }]);
      expect(tooBig).toBeInstanceOf(EventTooLargeError);
      expect(tooBig).toMatchObject({ limit: 2048 });
      // Counted in UTF-8 bytes, not characters: 1,000 characters of 3 bytes each do not fit in 2,048.
      const tooBigInBytes = await attempt([{ type: 'OrderShipped', data: { carrier: '\u20ac'.repeat(1000) } }]);
      expect(tooBigInBytes).toBeInstanceOf(EventTooLargeError);
      expect((tooBigInBytes as EventTooLargeError).bytes).toBeGreaterThan(3000);

      const wrongVersion = await attempt([item('a')], { expectedVersion: -3 });
      expect(wrongVersion).toMatchObject({ code: 'VALIDATION', path: 'expectedVersion' });

      const twice = await attempt([
        { ...item('a'), id: 'same' },
        { ...item('b'), id: 'same' },
      ]);
      expect(twice).toBeInstanceOf(DuplicateInBatchError);

      const noId = await store.append('', [item('a')]).catch((e: unknown) => e);
      expect(noId).toMatchObject({ code: 'VALIDATION', path: 'aggregateId' });

      const notArray = await attempt('nope' as unknown as unknown[]);
      expect(notArray).toMatchObject({ code: 'VALIDATION' });

      const stream = await collect(store.readStream('o1'));
      expect(stream).toHaveLength(1);
      expect((await store.info()).pendingEvents).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it('rejects data that cannot be stored as JSON, naming the path', async () => {
    const { z } = await import('zod');
    const { defineEvent, defineAggregate } = await import('../../src/core/index.ts');
    const Note = defineEvent({ type: 'Noted', schema: z.object({ body: z.unknown() }) });
    const Notes = defineAggregate({ type: 'Notes', events: [Note], initialState: () => 0, reducers: { Noted: (n) => n + 1 } });
    const { openTestStore } = await import('../../src/testing/index.ts');
    const store = await openTestStore({ aggregates: [Notes], worker });
    try {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      const cases: [unknown, string, RegExp][] = [
        [{ f: () => 1 }, 'data.body.f', /function/],
        [cyclic, 'data.body.self', /cycle/],
        [{ when: new Date(0) }, 'data.body.when', /Date/],
        [{ n: Number.NaN }, 'data.body.n', /finite/],
        [{ m: new Map() }, 'data.body.m', /Map/],
        [[1, undefined], 'data.body[1]', /undefined/],
        [{ ok: [1, 'a'], deep: [{ x: 1 }, { y: [true, { z: Infinity }] }] }, 'data.body.deep[1].y[1].z', /finite/],
        [{ list: [{ ['k\u0000']: 1 }] }, 'data.body.list[0].k\u0000', /NUL/],
      ];
      for (const [body, path, reason] of cases) {
        const error = await store.append('n1', [{ type: 'Noted', data: { body } }]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnserializableDataError);
        expect(error).toMatchObject({ path });
        expect((error as UnserializableDataError).reason).toMatch(reason);
      }
      expect((await store.info()).pendingEvents).toBe(0);
      await store.append('n1', [{ type: 'Noted', data: { body: { fine: [1, 'two', null, { ok: true }] } } }]);
      expect((await store.load(Notes, 'n1')).state).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it('needs an aggregate type when event types do not name one', async () => {
    const store = await openOrderStore(worker);
    try {
      await expect(store.append('o1', [placed()], { aggregateType: '' })).rejects.toBeInstanceOf(AggregateTypeError);
      const explicit = await store.append('o1', [placed()], { aggregate: Order });
      expect(explicit.events[0]!.aggregateType).toBe('Order');
    } finally {
      await store.dispose();
    }
  });
});
