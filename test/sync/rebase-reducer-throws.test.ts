// A reducer that throws while the client folds an aggregate's state for its
// rebase rule: the sync of the store goes on, and the aggregate's pending
// events are kept as they are (the default without a rule), never lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';
import { openClient, startServer, type Harness } from './harness.ts';

const Note = defineEvent({ type: 'Note', schema: z.object({ text: z.unknown() }) });
/** Asked for every pending event it could decide on, with the text of each. */
const asked: unknown[] = [];
const Doc = defineAggregate({
  type: 'Doc',
  events: [Note],
  initialState: () => ({ notes: [] as string[] }),
  // Written for strings: a number (valid for the schema, stored by another build) makes it throw.
  reducers: { Note: (state, event) => ({ notes: [...state.notes, (event.data.text as string).toUpperCase()] }) },
  rebase: (event) => {
    asked.push(event.data.text);
    return { drop: 'the rule drops every conflicting note' };
  },
});

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

/** The texts stored for an aggregate on the server, as another device pulls them. */
async function serverTexts(log: string, aggregateId: string): Promise<unknown[]> {
  const reader = await openClient(harness.url, { log, aggregates: [Doc] });
  try {
    await reader.sync.syncNow();
    const texts: unknown[] = [];
    for await (const event of reader.readStream(aggregateId)) texts.push((event.data as { text: unknown }).text);
    return texts;
  } finally {
    await reader.dispose();
  }
}

describe('a reducer that throws while a rebase is decided', () => {
  it("on one of the server's events: the aggregate's pending events are kept, the rule is not asked, and the rest syncs", async () => {
    const log = 'reducer-throws-server';
    const a = await openClient(harness.url, { log, aggregates: [Doc] });
    const b = await openClient(harness.url, { log, aggregates: [Doc] });
    try {
      await a.append('doc', [{ type: 'Note', data: { text: 'hi' } }]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.sync.pause();
      await a.append('doc', [{ type: 'Note', data: { text: 42 } }]);
      await a.sync.syncNow();
      await b.append('doc', [{ type: 'Note', data: { text: 'offline edit' } }]);
      await b.append('other-doc', [{ type: 'Note', data: { text: 'unrelated' } }]);
      asked.length = 0;
      await b.sync.resume();
      await b.sync.syncNow();
      expect(await b.sync.status()).toMatchObject({ pending: 0, lastError: null });
      expect(await b.sync.rejected()).toEqual([]);
      expect(asked).toEqual([]);
      expect(await serverTexts(log, 'doc')).toEqual(['hi', 42, 'offline edit']);
      expect(await serverTexts(log, 'other-doc')).toEqual(['unrelated']);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('on a pending event the rule kept: the decisions made stand, and the later events are kept', async () => {
    const log = 'reducer-throws-pending';
    const a = await openClient(harness.url, { log, aggregates: [Doc] });
    const b = await openClient(harness.url, { log, aggregates: [Doc] });
    const KeepNumbers = defineAggregate({
      ...Doc,
      rebase: (event) => {
        asked.push(event.data.text);
        return typeof event.data.text === 'number' ? 'keep' : { drop: 'only numbers are kept' };
      },
    });
    const c = await openClient(harness.url, { log, aggregates: [KeepNumbers] });
    try {
      await a.append('doc', [{ type: 'Note', data: { text: 'hi' } }]);
      await a.sync.syncNow();
      await c.sync.syncNow();
      await c.sync.pause();
      await a.append('doc', [{ type: 'Note', data: { text: 'server' } }]);
      await a.sync.syncNow();
      // 'drop me' is dropped; 7 is kept and then throws in the reducer; 'after' is kept without the rule.
      await c.append('doc', [{ type: 'Note', data: { text: 'drop me' } }]);
      await c.append('doc', [{ type: 'Note', data: { text: 7 } }]);
      await c.append('doc', [{ type: 'Note', data: { text: 'after' } }]);
      asked.length = 0;
      await c.sync.resume();
      await c.sync.syncNow();
      expect(asked).toEqual(['drop me', 7]);
      expect(await c.sync.status()).toMatchObject({ pending: 0, lastError: null });
      expect((await c.sync.rejected()).map((r) => r.event.data)).toEqual([{ text: 'drop me' }]);
      expect(await serverTexts(log, 'doc')).toEqual(['hi', 'server', 7, 'after']);
    } finally {
      await a.dispose();
      await b.dispose();
      await c.dispose();
    }
  });
});
