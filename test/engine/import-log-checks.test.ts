import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { collect, modes } from './modes.ts';

/**
 * importLog given a file that is not this log's: a line that is JSON but no
 * event, an id twice, a confirmed seq gap, and the export of another log
 * whose positions overlap this store's.
 * Each is a typed error, and nothing stored changes.
 */

const confirmed = (i: number, over: Partial<StoredEvent> = {}): StoredEvent => ({
  id: `srv-${i}`,
  aggregateId: `o${i}`,
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: `c${i}` },
  meta: { occurredAt: 1000 + i, clientId: 'someone', clientSeq: i },
  position: i,
  ...over,
});

describe.each(modes)('importLog checks ($mode)', ({ worker }) => {
  it.each(['null', '[1, 2]', '42', '"an event"'])(
    'a line that is JSON but not an object (%s) is VALIDATION, nothing stored',
    async (line) => {
      const store = await openTestStore({ ...model, worker });
      try {
        const error = await store.importLog(`${JSON.stringify(confirmed(1))}\n${line}\n`).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/line 2: not an event/) });
        expect(await collect(store.exportLog())).toEqual([]);
      } finally {
        await store.dispose();
      }
    },
  );

  it('a file with an id twice, or a confirmed seq gap, is refused and nothing of it is stored', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      const twice = [confirmed(1), confirmed(2, { id: 'srv-1' })].map((e) => JSON.stringify(e));
      await expect(store.importLog(twice)).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/line 2/) });
      const gap = [confirmed(1), confirmed(2, { aggregateId: 'o1', seq: 3 })].map((e) => JSON.stringify(e));
      await expect(store.importLog(gap)).rejects.toMatchObject({ code: 'SEQ_GAP', details: { aggregateId: 'o1', expected: 2, got: 3 } });
      expect(await collect(store.exportLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it("another log's export, overlapping the positions this store holds, is refused and changes nothing", async () => {
    const a = await openTestStore({ ...model, worker });
    const b = await openTestStore({ ...model, worker });
    try {
      await a.importConfirmed([1, 2, 3].map((i) => confirmed(i, { id: `a-${i}` })));
      await b.importConfirmed([1, 2, 3, 4, 5].map((i) => confirmed(i, { id: `b-${i}`, aggregateId: `b${i}` })));
      const before = await collect(a.exportLog());
      const error = await a.importLog(await collect(b.exportLog())).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(/position 1 \(b-1\) is not the one this store holds there \(a-1\)/),
        details: { position: 1, id: 'b-1', stored: 'a-1' },
      });
      expect(await collect(a.exportLog())).toEqual(before);
      // The same log's longer export continues it.
      const longer = [...before, ...[4, 5].map((i) => JSON.stringify(confirmed(i, { id: `a-${i}` })))];
      expect(await a.importLog(longer)).toEqual({ confirmed: 2, pending: 0 });
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('an edited export (an event of the store with other contents, same id) is refused, nothing of it stored', async () => {
    const store = await openTestStore({ ...model, worker });
    try {
      await store.importConfirmed([1, 2, 3].map((i) => confirmed(i)));
      const before = await collect(store.exportLog());
      const edits: [string, (e: StoredEvent) => StoredEvent][] = [
        ['data', (e) => ({ ...e, data: { customerId: 'someone else' } })],
        ['meta', (e) => ({ ...e, meta: { ...e.meta, occurredAt: 1 } })],
        ['type', (e) => ({ ...e, type: 'OrderShipped', data: { carrier: 'x' } })],
      ];
      for (const [what, edit] of edits) {
        const lines = before.map((line, i) => (i === 1 ? JSON.stringify(edit(JSON.parse(line) as StoredEvent)) : line));
        lines.push(JSON.stringify(confirmed(4)));
        const error = await store.importLog(lines).catch((e: unknown) => e);
        expect({ what, error }).toMatchObject({
          what,
          error: { code: 'VALIDATION', message: expect.stringMatching(/position 2 \(srv-2\) differs from the one this store holds/) },
        });
        expect(await collect(store.exportLog())).toEqual(before);
      }
      // Its own export, keys in another order, is the same events: skipped, and what follows is imported.
      const reordered = before.map((line) => {
        const { position, meta, data, ...rest } = JSON.parse(line) as StoredEvent;
        return JSON.stringify({ position, data, meta: { ...meta }, ...rest });
      });
      expect(await store.importLog([...reordered, JSON.stringify(confirmed(4))])).toEqual({ confirmed: 1, pending: 0 });
    } finally {
      await store.dispose();
    }
  });
});
