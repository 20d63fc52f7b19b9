// A rebase rule is app code and may throw anything. Whatever it throws, the README's rule holds: the event
// it was deciding is dropped (rejected, with the reason), the other decisions stand, and sync goes on. A value
// whose text cannot be read (Object.create(null), a revoked proxy) made describing it throw before: the
// whole rebase failed, and every later round ran into it again, so nothing of the store synced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';
import { openClient, startServer, type Harness } from './harness.ts';

const Note = defineEvent({ type: 'Note', schema: z.object({ text: z.string() }) });

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const throwers: [string, () => unknown][] = [
  ['an Error', () => new Error('rule failed')],
  ['a null-prototype object', () => Object.assign(Object.create(null) as object, { code: 'no' })],
  [
    'a revoked proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  ],
];

describe('a rebase rule that throws', () => {
  it.each(throwers)('%s: the event it decided is rejected with the reason, the others are kept, and sync goes on', async (kind, make) => {
    const Doc = defineAggregate({
      type: 'Doc',
      events: [Note],
      initialState: () => ({ notes: 0 }),
      reducers: { Note: (state) => ({ notes: state.notes + 1 }) },
      rebase: (event) => {
        if (event.data.text === 'throws') throw make();
        return 'keep';
      },
    });
    const log = `rule-throws-${kind.replace(/\W+/g, '-')}-${Date.now().toString(36)}`;
    const a = await openClient(harness.url, { log, aggregates: [Doc] });
    const b = await openClient(harness.url, { log, aggregates: [Doc] });
    try {
      await a.append('doc', [{ type: 'Note', data: { text: 'first' } }]);
      await a.sync.syncNow();
      await b.sync.pause();
      await b.append('doc', [
        { type: 'Note', data: { text: 'kept' } },
        { type: 'Note', data: { text: 'throws' } },
      ]);
      await b.append('other', [{ type: 'Note', data: { text: 'unrelated' } }]);
      await b.sync.resume();
      await b.sync.syncNow();
      expect(await b.sync.status()).toMatchObject({ pending: 0, lastError: null });
      const rejected = await b.sync.rejected();
      expect(rejected.map((r) => [(r.event.data as { text: string }).text, r.reason])).toEqual([
        ['throws', expect.stringMatching(/^the rebase rule threw: /)],
      ]);
      await a.sync.syncNow();
      const texts: string[] = [];
      for await (const event of a.readStream('doc')) texts.push((event.data as { text: string }).text);
      expect(texts).toEqual(['first', 'kept']);
      const others: string[] = [];
      for await (const event of a.readStream('other')) others.push((event.data as { text: string }).text);
      expect(others).toEqual(['unrelated']);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
