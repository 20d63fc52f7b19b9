import { describe, expect, it } from 'vitest';
import { loadAggregate, readStream } from '../../src/client/aggregate-loader.ts';
import { connect, type EngineConnection } from '../../src/client/connection.ts';
import { HistoryCompactedError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { model, Order } from '../fixtures/model.ts';
import { collect, modes, openOrderStore } from './modes.ts';

/**
 * Compaction running between the engine calls of one read or load: follow-up
 * calls of a stream read are exact (never a silent gap), a load whose
 * continuation was dropped starts again from the new base, and a what-if that
 * skips an event inside a base is refused.
 */

/** Events 1..count of stream `a`, one page per import (a read of them needs several engine calls). */
async function importStream(store: { importConfirmed(events: StoredEvent[]): Promise<unknown> }, count: number) {
  for (let seq = 1; seq <= count; seq++) {
    await store.importConfirmed([
      {
        id: `a-${seq}`,
        aggregateId: 'a',
        aggregateType: 'Order',
        seq,
        type: 'ItemAdded',
        version: 2,
        data: { sku: 's', qty: 1, price: seq },
        meta: { occurredAt: 1000 + seq, clientId: 'other-client', clientSeq: seq },
        position: seq,
      },
    ]);
  }
}

/** A connection to the store's database whose engine runs `hook` once, after the first call to `method` returns. */
function withHook(connection: EngineConnection, method: 'readStream' | 'readSnapshotAndTail', hook: () => Promise<unknown>) {
  let fired = false;
  const engine = new Proxy(connection.engine, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (!fired) {
          fired = true;
          await hook();
        }
        return result;
      };
    },
  });
  return { ...connection, engine };
}

const registry = createRegistry({ events: [...model.events], aggregates: [...model.aggregates] });
const total = (count: number, from = 1) => ((from + count) * (count - from + 1)) / 2;

describe.each(modes)('compaction between engine calls ($mode)', ({ worker }) => {
  it('a stream read spanning several calls throws instead of skipping what compaction dropped between them', async () => {
    const store = await openOrderStore(worker);
    const connection = await connect({ name: store.name }, worker);
    try {
      await importStream(store, 300);
      const racing = withHook(connection, 'readStream', () => store.compact({ retention: { maxEvents: 50 }, measure: false }));
      // The first call reads seqs 1..128; then 1..250 are dropped: 129.. must not silently become 251..
      await expect(collect(readStream(racing, registry, 'a'))).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'stream', aggregateId: 'a', fromSeq: 129 },
      });
      // Without a race, the read starts at the kept part.
      const kept = await collect(readStream(connection, registry, 'a'));
      expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 251 + i));
    } finally {
      await connection.close();
      await store.dispose();
    }
  });

  it('reads a compacted stream of many pages backwards to the start of what is kept', async () => {
    const store = await openOrderStore(worker);
    const connection = await connect({ name: store.name }, worker);
    try {
      await importStream(store, 300);
      await store.compact({ retention: { maxEvents: 200 }, measure: false });
      const backwards = await collect(readStream(connection, registry, 'a', { backwards: true }));
      expect(backwards.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => 300 - i));
    } finally {
      await connection.close();
      await store.dispose();
    }
  });

  it('a load whose continuation compaction dropped starts again from the new base', async () => {
    const store = await openOrderStore(worker);
    const connection = await connect({ name: store.name }, worker);
    try {
      await importStream(store, 300);
      const racing = withHook(connection, 'readSnapshotAndTail', () => store.compact({ retention: { maxEvents: 50 }, measure: false }));
      // The first call brings seqs 1..128; the continuation from 129 finds it dropped (base now at 250).
      const loaded = await loadAggregate(racing, registry, Order, 'a');
      expect(loaded.version).toBe(300);
      expect(loaded.snapshotVersion).toBe(250);
      expect((loaded.state as { total: number }).total).toBe(total(300));
    } finally {
      await connection.close();
      await store.dispose();
    }
  });

  it('a what-if fold whose continuation compaction dropped starts again from the new base', async () => {
    const store = await openOrderStore(worker);
    const connection = await connect({ name: store.name }, worker);
    try {
      await importStream(store, 60);
      const racing = withHook(connection, 'readSnapshotAndTail', () => store.compact({ retention: { maxEvents: 20 }, measure: false }));
      // No base yet when the fold starts: it reads from seq 1, which compaction has just dropped.
      const loaded = await loadAggregate(racing, registry, Order, 'a', { skip: new Set(['a-60']) });
      expect(loaded.version).toBe(60);
      expect((loaded.state as { total: number }).total).toBe(total(60) - 60);
    } finally {
      await connection.close();
      await store.dispose();
    }
  });

  it('a what-if that skips an event inside the compaction base throws HistoryCompactedError', async () => {
    const store = await openOrderStore(worker);
    try {
      await importStream(store, 60);
      await store.compact({ retention: { maxEvents: 20 }, measure: false });
      const { historyStartsAt } = await store.info();
      expect(historyStartsAt).toBe(41);
      const inBase = store.inspect(Order, 'a', { skip: ['a-5'] });
      await expect(inBase).rejects.toBeInstanceOf(HistoryCompactedError);
      await expect(store.inspect(Order, 'a', { skip: ['a-5'] })).rejects.toMatchObject({
        code: 'HISTORY_COMPACTED',
        details: { what: 'state', historyStartsAt, aggregateId: 'a', skip: ['a-5'] },
      });
      // An event still kept can be left out.
      const kept = await store.inspect(Order, 'a', { skip: ['a-50'] });
      expect(kept.version).toBe(60);
      expect(kept.state.total).toBe(total(60) - 50);
    } finally {
      await store.dispose();
    }
  });
});
