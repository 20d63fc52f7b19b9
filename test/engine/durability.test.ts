// What is flushed to disk (IndexedDB's strict durability) before something
// leaves the device, and the `durability` option of openStore. The engine runs
// in this thread here (in-process), so the journal sees its transactions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { markAt, startCommitJournal, type CommitJournal, type JournalCommit } from '../fixtures/commit-journal.ts';
import { ItemAdded, model, Order } from '../fixtures/model.ts';
import { eventually } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });
const holdsEvents = (commit: JournalCommit) => commit.stores.includes('pages') && !commit.stores.includes('reactions');
const strict = (commit: JournalCommit) => commit.durability === 'strict';

let journal: CommitJournal;
beforeEach(() => {
  journal = startCommitJournal();
});
afterEach(() => journal.stop());

/** The last commit that wrote events before entry `at`, and its index. */
function lastEventCommitBefore(at: number): number {
  for (let i = at - 1; i >= 0; i--) {
    const entry = journal.entries[i]!;
    if (entry.kind === 'commit' && holdsEvents(entry)) return i;
  }
  return -1;
}

describe('durability: flushed to disk before anything leaves the device', () => {
  it("a reaction's handler runs only after a strict commit of its in-flight marker, made after the event was written", async () => {
    const charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      handlers: { ItemAdded: (event) => journal.mark(`handler:${event.data.sku}`) },
    });
    const store = await openTestStore({ ...model, worker: false, reactions: [charge] });
    try {
      await store.append('o1', [item('cup')]);
      await store.append('o1', [item('mug'), item('jug')]);
      await eventually(() => expect(markAt(journal, 'handler:jug')).toBeGreaterThan(0));
      for (const sku of ['cup', 'mug', 'jug']) {
        const handler = markAt(journal, `handler:${sku}`);
        const written = lastEventCommitBefore(handler);
        expect(written, `the commit of ${sku}`).toBeGreaterThanOrEqual(0);
        const between = journal.commitsBetween(written, handler);
        expect(
          between.some((c) => strict(c) && c.stores.includes('reactions')),
          `${sku}: ${JSON.stringify(between)}`,
        ).toBe(true);
      }
    } finally {
      await store.dispose();
    }
  });

  it('bookkeeping that precedes no handler (the checkpoint moving past events not for the reaction) is not flushed', async () => {
    const charge = defineReaction({ name: 'charge', events: [ItemAdded], handlers: { ItemAdded: () => undefined } });
    const store = await openTestStore({ ...model, worker: false, reactions: [charge] });
    try {
      const from = journal.entries.length;
      for (let i = 0; i < 5; i++) await store.append(`o${i}`, [{ type: 'OrderPlaced', data: { customerId: `c${i}` } }]);
      await eventually(async () => expect((await store.reactions.status())[0]).toMatchObject({ caughtUp: true }));
      const reactionCommits = journal.entries
        .slice(from)
        .filter((e): e is JournalCommit => e.kind === 'commit' && e.stores.includes('reactions'));
      expect(reactionCommits.length).toBeGreaterThan(0);
      expect(reactionCommits.filter(strict)).toEqual([]);
    } finally {
      await store.dispose();
    }
  });

  it("a named replay job's records are flushed, the first before its first event", async () => {
    const store = await openTestStore({ ...model, worker: false });
    try {
      await store.append('o1', [item('cup'), item('mug')]);
      await store.replay({ name: 'rebuild', checkpointEvery: 1, handler: () => journal.mark('handled') });
      const jobCommits = journal.entries.filter((e): e is JournalCommit => e.kind === 'commit' && e.stores.includes('jobs'));
      expect(jobCommits.length).toBeGreaterThanOrEqual(3); // the mark, a checkpoint per event, done
      expect(jobCommits.every(strict), JSON.stringify(jobCommits)).toBe(true);
      const first = journal.entries.findIndex((e) => e.kind === 'commit' && e.stores.includes('jobs'));
      expect(first).toBeLessThan(markAt(journal, 'handled'));
    } finally {
      await store.dispose();
    }
  });
});

describe("openStore's durability option", () => {
  const appendCommits = () => journal.entries.filter((e): e is JournalCommit => e.kind === 'commit' && holdsEvents(e));

  it("'strict': every append and appendBatch commit is flushed before its promise resolves", async () => {
    const store = await openTestStore({ ...model, worker: false, durability: 'strict' });
    try {
      const from = journal.entries.length;
      await store.append('o1', [item('cup')]);
      await store.appendBatch([
        { aggregateId: 'o2', events: [item('mug')] },
        { aggregateId: 'o3', events: [item('jug')] },
      ]);
      const commits = appendCommits().filter((c) => journal.entries.indexOf(c) >= from);
      expect(commits.length).toBeGreaterThanOrEqual(2);
      expect(commits.every(strict), JSON.stringify(commits)).toBe(true);
      expect((await store.load(Order, 'o2')).version).toBe(1);
    } finally {
      await store.dispose();
    }
  });

  it("by default ('relaxed') appends commit with the browser's default durability", async () => {
    const store = await openTestStore({ ...model, worker: false });
    try {
      const from = journal.entries.length;
      await store.append('o1', [item('cup')]);
      const commits = appendCommits().filter((c) => journal.entries.indexOf(c) >= from);
      expect(commits.length).toBe(1);
      expect(commits[0]!.durability).not.toBe('strict');
    } finally {
      await store.dispose();
    }
  });

  it('anything else is a ConfigError, and no store is opened', async () => {
    for (const durability of ['STRICT', 'default', 1, null]) {
      const opening = openTestStore({ ...model, worker: false, durability: durability as unknown as 'strict' });
      await expect(opening).rejects.toBeInstanceOf(ConfigError);
      await expect(opening).rejects.toThrow(/durability must be 'relaxed' or 'strict'/);
    }
  });
});
