// An outcome decided by a commit the engine made just before it died: onOutcome is told once, after the
// commit, to the tabs open then, so nobody heard it; the next session finds the event confirmed already.
// sync.outcomeOf() is how the app learns it then. The engine runs in test/browser/fixtures/crash-audit.worker.ts,
// which dies at a chosen step of a sync round (here: the commit that follows the push's reply).
import { describe, expect, inject, it } from 'vitest';
import { openStore } from '../../src/client/index.ts';
import type { EventOutcome } from '../../src/client/sync.ts';
import { deleteTestDatabase, uniqueStoreName } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { until } from '../sync/crash-audit-checks.ts';

const url = inject('syncUrl');
const token = 'browser-token';

describe('outcomes when the engine dies right after the commit that decides them', () => {
  it('nobody hears the confirmation, and outcomeOf() tells it in the next session', async () => {
    const name = uniqueStoreName('outcome-crash');
    const log = uniqueStoreName('outcome-crash-log');
    const channel = new BroadcastChannel(name);
    let worker: Worker | undefined;
    let killedAt: string | undefined;
    let armed = (): void => undefined;
    channel.onmessage = (message: MessageEvent<{ killed?: string; armed?: true }>) => {
      if (message.data.killed) {
        killedAt = message.data.killed;
        worker?.terminate();
      }
      if (message.data.armed) armed();
    };
    const sync = { url, log, token, live: false, pollIntervalMs: 60_000, initialBackoffMs: 5, maxBackoffMs: 40 };
    const first = await openStore({
      ...model,
      name,
      sync,
      worker: () =>
        (worker = new Worker(new URL('./fixtures/crash-audit.worker.ts', import.meta.url), {
          type: 'module',
          name: JSON.stringify({ channel: name }),
        })),
    });
    await first.sync.pause();
    const { events } = await first.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
    const id = events[0]!.id;
    await new Promise<void>((resolve) => {
      armed = resolve;
      channel.postMessage({ arm: { after: 'reply:push', at: 'commit:meta' } });
    });
    await first.sync.resume();
    void first.sync.syncNow().catch(() => undefined);
    await until(async () => killedAt !== undefined, 'the engine to die', 30_000, 10);
    void first.close().catch(() => undefined);

    // Opened without sync first, so that no round of this session confirms anything: what the dead engine
    // committed is all there is to read.
    const offline = await openStore({ ...model, name, worker: true });
    try {
      expect(await offline.sync.outcomeOf([id])).toEqual([
        { id, status: 'confirmed', aggregateId: 'o1', type: 'OrderPlaced', seq: 1, position: 1 },
      ]);
    } finally {
      await offline.close();
    }
    const second = await openStore({ ...model, name, sync, worker: true });
    const heard: EventOutcome[] = [];
    try {
      second.sync.onOutcome((outcomes) => heard.push(...outcomes));
      await until(async () => (await second.sync.status()).leader === true, 'the second store to sync', 30_000, 10);
      await second.sync.syncNow();
      // onOutcome is told when the outcome is decided, and that was in the session that died: this one hears nothing of it.
      expect(heard.filter((o) => o.id === id)).toEqual([]);
      expect(await second.sync.outcomeOf([id])).toMatchObject([{ id, status: 'confirmed', position: 1 }]);
      expect(killedAt).toMatch(/^commit:.*meta/);
    } finally {
      await second.close();
      channel.close();
      await deleteTestDatabase(name).catch(() => undefined);
    }
  });
});
