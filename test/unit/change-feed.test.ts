import { afterEach, describe, expect, it } from 'vitest';
import { createChangeFeed, type ChangeFeed } from '../../worker/change-feed.ts';
import type { Change } from '../../worker/types.ts';

// The engine's change feed (worker/change-feed.ts): this engine's listeners hear every change at once;
// other tabs (here: another feed on the same BroadcastChannel) hear them in order, a burst of appends as few messages.

const feeds: ChangeFeed[] = [];
afterEach(() => {
  for (const feed of feeds.splice(0)) feed.close();
});

function pair(name: string) {
  const heard: Change[] = [];
  const remote = createChangeFeed(name, (change) => heard.push(change));
  const local = createChangeFeed(name, () => undefined);
  feeds.push(remote, local);
  return { local, heard };
}

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

describe('change feed', () => {
  it('given a burst of appends, then local listeners hear each and other tabs hear them merged, in order around other changes', async () => {
    const { local, heard } = pair(`feed-${Math.random()}`);
    const mine: Change[] = [];
    local.subscribe((change) => mine.push(change));
    for (let i = 0; i < 30; i++) {
      local.publish({ kind: 'appended', aggregates: [[`a${i % 3}`, i + 1]], count: 1, end: { confirmedHead: 0, nextLsn: i + 2 } });
    }
    local.publish({ kind: 'confirmed', head: 7, count: 7 });
    local.publish({ kind: 'appended', aggregates: [['b', 1]], count: 2 });
    expect(mine).toHaveLength(32);
    await settle();

    const appended = heard.filter((c): c is Extract<Change, { kind: 'appended' }> => c.kind === 'appended');
    expect(appended.length).toBeLessThan(31);
    expect(appended.reduce((sum, c) => sum + c.count, 0)).toBe(32);
    const beforeConfirmed = heard.slice(
      0,
      heard.findIndex((c) => c.kind === 'confirmed'),
    );
    const heads = new Map<string, number>();
    for (const c of beforeConfirmed)
      if (c.kind === 'appended') for (const [id, head] of c.aggregates) heads.set(id, Math.max(heads.get(id) ?? 0, head));
    expect(Object.fromEntries(heads)).toEqual({ a0: 28, a1: 29, a2: 30 });
    const lastBefore = beforeConfirmed.at(-1) as Extract<Change, { kind: 'appended' }>;
    expect(lastBefore.end).toEqual({ confirmedHead: 0, nextLsn: 31 });
    expect(heard.at(-1)).toEqual({ kind: 'appended', aggregates: [['b', 1]], count: 2 });
  });

  it('given a single change, then other tabs hear it one task later; close sends what is queued', async () => {
    const { local, heard } = pair(`feed-${Math.random()}`);
    local.publish({ kind: 'projection', name: 'revenue' });
    await settle(30);
    expect(heard).toEqual([{ kind: 'projection', name: 'revenue' }]);
    local.publish({ kind: 'appended', aggregates: [['x', 1]], count: 1 });
    local.publish({ kind: 'appended', aggregates: [['x', 2]], count: 1 });
    local.close();
    await settle();
    expect(heard.slice(1)).toEqual([{ kind: 'appended', aggregates: [['x', 2]], count: 2 }]);
  });

  it('given appends merged for other tabs, when one left stream entries for idle time, then the merged change says so', async () => {
    const { local, heard } = pair(`feed-${Math.random()}`);
    local.publish({ kind: 'appended', aggregates: [['x', 1]], count: 1, later: true });
    local.publish({ kind: 'appended', aggregates: [['y', 1]], count: 1 });
    local.close();
    await settle();
    expect(heard).toEqual([
      {
        kind: 'appended',
        aggregates: [
          ['x', 1],
          ['y', 1],
        ],
        count: 2,
        later: true,
      },
    ]);
  });

  it('once silenced (its database deleted), other tabs hear nothing more, not even what waited to be sent; its own listeners still do', async () => {
    const { local, heard } = pair(`feed-${Math.random()}`);
    const mine: Change[] = [];
    local.subscribe((change) => mine.push(change));
    local.publish({ kind: 'confirmed', head: 1, count: 1 });
    await settle();
    // Queued behind the first (sent at most every BROADCAST_EVERY_MS): a pause, just before the delete.
    local.publish({ kind: 'syncControl', paused: true });
    local.silence();
    local.publish({ kind: 'confirmed', head: 2, count: 1 });
    await settle();
    expect(heard).toEqual([{ kind: 'confirmed', head: 1, count: 1 }]);
    expect(mine.map((c) => c.kind)).toEqual(['confirmed', 'syncControl', 'confirmed']);
  });
});
