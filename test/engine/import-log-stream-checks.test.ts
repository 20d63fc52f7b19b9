import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

/**
 * importLog keeps each aggregate's seqs gapless and unique (DESIGN, invariant
 * 2): the first new confirmed event of an aggregate continues the stream the
 * store holds, seqs, clientSeqs and positions are safe integers, and an
 * import into a store that holds part of the same log still skips what it
 * holds. Given a file, when it is imported, then it is refused with a typed
 * error and nothing of it is stored, or it continues the log.
 */

const confirmed = (position: number, aggregateId: string, seq: number, over: Partial<StoredEvent> = {}): StoredEvent => ({
  id: `srv-${position}`,
  aggregateId,
  aggregateType: 'Order',
  seq,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: `c${position}` },
  meta: { occurredAt: 1000 + position, clientId: 'someone', clientSeq: position },
  position,
  ...over,
});

const ndjson = (events: StoredEvent[]): string[] => events.map((e) => JSON.stringify(e));

describe.each(modes)('importLog: stream heads and safe integers ($mode)', ({ worker }) => {
  const open = () => openTestStore({ ...model, worker });

  it("a new stream's first confirmed event at seq 5 is SEQ_GAP naming the line, nothing stored", async () => {
    const store = await open();
    try {
      const file = ndjson([confirmed(1, 'o1', 1), confirmed(2, 'o2', 5)]);
      await expect(store.importLog(file)).rejects.toMatchObject({
        code: 'SEQ_GAP',
        message: expect.stringMatching(/Line 2 holds seq 5 of o2/),
        details: { aggregateId: 'o2', expected: 1, got: 5, line: 2 },
      });
      expect(await collect(store.exportLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('a confirmed event that skips or repeats a seq of the stream stored here is SEQ_GAP; the next append continues the stream', async () => {
    const store = await open();
    try {
      await store.importConfirmed([confirmed(1, 'o1', 1), confirmed(2, 'o1', 2)]);
      const before = await collect(store.exportLog());
      // The file's first event of o1 is its only one here: only the stored stream says where it must start.
      const skips = ndjson([confirmed(3, 'o1', 4)]);
      await expect(store.importLog(skips)).rejects.toMatchObject({
        code: 'SEQ_GAP',
        details: { aggregateId: 'o1', expected: 3, got: 4, line: 1 },
      });
      const repeats = ndjson([confirmed(3, 'o2', 1), confirmed(4, 'o1', 2)]);
      await expect(store.importLog(repeats)).rejects.toMatchObject({ code: 'SEQ_GAP', details: { expected: 3, got: 2, line: 2 } });
      expect(await collect(store.exportLog())).toEqual(before);
      const { events } = await store.append('o1', [{ type: 'OrderShipped', data: { carrier: 'ups' } }], { expectedVersion: 2 });
      expect(events.map((e) => e.seq)).toEqual([3]);
    } finally {
      await store.dispose();
    }
  });

  it("a confirmed event at the seq of this store's own pending event is SEQ_GAP (no seq twice in a stream)", async () => {
    const store = await open();
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'mine' } }]);
      await expect(store.importLog(ndjson([confirmed(1, 'o1', 1)]))).rejects.toMatchObject({
        code: 'SEQ_GAP',
        details: { aggregateId: 'o1', expected: 2, got: 1, line: 1 },
      });
      expect((await collect(store.readStream('o1'))).map((e) => e.seq)).toEqual([1]);
    } finally {
      await store.dispose();
    }
  });

  it('a pending line before a confirmed one of the same stream: the confirmed one must follow the pending one stored first', async () => {
    const store = await open();
    try {
      const pending: StoredEvent = confirmed(9, 'o1', 1, { id: 'p-1' });
      delete pending.position;
      const file = [JSON.stringify(pending), JSON.stringify(confirmed(1, 'o1', 1))];
      await expect(store.importLog(file)).rejects.toMatchObject({
        code: 'SEQ_GAP',
        details: { aggregateId: 'o1', expected: 2, got: 1, line: 2 },
      });
      expect((await collect(store.readStream('o1'))).map((e) => [e.id, e.seq])).toEqual([['p-1', 1]]);
    } finally {
      await store.dispose();
    }
  });

  it.each([
    ['seq', { seq: 2 ** 53 }],
    ['position', { position: 2 ** 53 }],
    ['meta.clientSeq', { meta: { occurredAt: 1, clientId: 'someone', clientSeq: 2 ** 53 } }],
    ['version', { version: 1e308 }],
  ])('%s past 2^53 - 1 is VALIDATION naming the line and field, nothing stored', async (field, over) => {
    const store = await open();
    try {
      const file = ndjson([confirmed(1, 'o1', 1), confirmed(2, 'o2', 1, over as Partial<StoredEvent>)]);
      await expect(store.importLog(file)).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringContaining(`line 2: ${field}:`),
        details: { line: 2, field },
      });
      expect(await collect(store.exportLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('an export imported into a store that holds its first part skips that part and continues, confirmed and pending', async () => {
    const source = await open();
    const scratch = await open();
    try {
      await source.importConfirmed([confirmed(1, 'o1', 1), confirmed(2, 'o2', 1), confirmed(3, 'o1', 2)]);
      const first = await collect(source.exportLog());
      expect(await scratch.importLog(first)).toEqual({ confirmed: 3, pending: 0 });
      await source.importConfirmed([confirmed(4, 'o2', 2), confirmed(5, 'o1', 3)]);
      await source.append('o2', [{ type: 'OrderShipped', data: { carrier: 'dhl' } }]);
      const whole = await collect(source.exportLog());
      expect(await scratch.importLog(whole)).toEqual({ confirmed: 2, pending: 1 });
      expect(await scratch.importLog(whole)).toEqual({ confirmed: 0, pending: 0 });
      expect(await collect(scratch.exportLog())).toEqual(whole);
      expect((await collect(scratch.readStream('o2'))).map((e) => e.seq)).toEqual([1, 2, 3]);
    } finally {
      await source.dispose();
      await scratch.dispose();
    }
  });

  it('a stream longer than one write chunk (2,000 events) imports whole', async () => {
    const store = await open();
    try {
      const file = ndjson(Array.from({ length: 2100 }, (_, i) => confirmed(i + 1, 'long', i + 1)));
      expect(await store.importLog(file)).toEqual({ confirmed: 2100, pending: 0 });
      const { events } = await store.append('long', [{ type: 'OrderShipped', data: { carrier: 'ups' } }], { expectedVersion: 2100 });
      expect(events[0]!.seq).toBe(2101);
    } finally {
      await store.dispose();
    }
  }, 60_000);

  it.each([
    ['seq', { seq: 2 ** 53 }],
    ['position', { position: 2 ** 53 }],
    ['meta.clientSeq', { meta: { occurredAt: 1, clientId: 'someone' } }],
    ['aggregateId', { aggregateId: 'z'.repeat(10_000) }],
    ['id', { id: 'x\u0000y' }],
    ['meta.correlationId', { meta: { occurredAt: 1, clientId: 'someone', clientSeq: 1, correlationId: { a: 1 } } }],
  ])('importConfirmed refuses %s the log cannot keep or read back (VALIDATION, nothing stored)', async (path, over) => {
    const store = await open();
    try {
      const events = [confirmed(1, 'o1', 1, over as Partial<StoredEvent>)];
      await expect(store.importConfirmed(events)).rejects.toMatchObject({ code: 'VALIDATION', details: { index: 0, path } });
      expect(await collect(store.exportLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });
});
