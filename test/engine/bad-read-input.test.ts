// Reads and imports given input their types allow but that means nothing (a NaN from a form, a
// string that is not JSON): refused with a typed ChronicleError, not answered with an empty or
// whole stream, nor with a raw SyntaxError from inside the engine.
import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../../src/core/index.ts';
import { collect, modes, openOrderStore } from './modes.ts';

describe.each(modes)('reads and imports given bad input ($mode)', ({ worker }) => {
  it('refuses a readStream, readLog or replay asked with NaN, and still reads the stream when asked properly', async () => {
    const store = await openOrderStore(worker);
    try {
      await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      // Refused when called, as a bad aggregate id is.
      let refused: unknown;
      try {
        store.readStream('o1', { fromSeq: Number('x') });
      } catch (error) {
        refused = error;
      }
      expect(refused).toMatchObject({ code: 'VALIDATION', path: 'fromSeq' });
      await expect(collect(store.readLog({ fromTime: Number.NaN }))).rejects.toMatchObject({ code: 'VALIDATION', path: 'fromTime' });
      await expect(store.replay({ filter: { toTime: Number.NaN }, handler: () => undefined })).rejects.toMatchObject({
        code: 'VALIDATION',
        path: 'toTime',
      });
      expect((await collect(store.readStream('o1', { fromSeq: 1 }))).map((e) => e.type)).toEqual(['OrderPlaced']);
    } finally {
      await store.dispose();
    }
  });

  it('refuses importConfirmed of a string that is not JSON with VALIDATION, storing nothing', async () => {
    const store = await openOrderStore(worker);
    try {
      const error = await store.importConfirmed('{not json').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ChronicleError);
      expect(error).toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(/^importConfirmed was given a string that is not JSON/),
      });
      expect(await collect(store.readLog())).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it('refuses importConfirmed of events holding what JSON cannot (a function, a symbol) with VALIDATION naming it, storing nothing', async () => {
    const store = await openOrderStore(worker);
    try {
      const event = (data: unknown) => ({
        id: 'srv-1',
        aggregateId: 'o1',
        aggregateType: 'Order',
        seq: 1,
        type: 'OrderPlaced',
        version: 1,
        data,
        meta: { occurredAt: 1, clientId: 'server', clientSeq: 1 },
        position: 1,
      });
      // In a worker, a DOMException (DataCloneError) came back; in-process, the function was dropped and the rest stored.
      for (const data of [{ customerId: 'c', note: () => 1 }, { customerId: Symbol('c') }]) {
        await expect(store.importConfirmed([event(data)] as never)).rejects.toMatchObject({
          code: 'VALIDATION',
          path: expect.stringMatching(/^data\.(note|customerId)$/),
          index: 0,
        });
      }
      await expect(store.importConfirmed(5 as never)).rejects.toMatchObject({ code: 'VALIDATION', path: 'events' });
      // append's aggregate option that is no aggregate definition: named, not a TypeError from inside.
      for (const aggregate of [5, {}, null]) {
        await expect(
          store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }], { aggregate: aggregate as never }),
        ).rejects.toMatchObject({ code: 'VALIDATION', path: 'aggregate' });
      }
      expect(await collect(store.readLog())).toEqual([]);
      // The same event as plain JSON is stored.
      expect(await store.importConfirmed([event({ customerId: 'c' })] as never)).toEqual({ stored: 1, head: 1 });
    } finally {
      await store.dispose();
    }
  });
});
