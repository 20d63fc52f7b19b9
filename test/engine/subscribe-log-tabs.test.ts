// subscribeLog in one tab, appends in another (two stores on one name share the client id): every event appended
// after the subscribe call is given once, also one the other tab's sync confirmed before this tab looked (it
// was never seen pending here). Events this client appended before the call are never given, when they are
// confirmed later either: an app that read the log first would show them twice.
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { collect, eventually, modes } from './modes.ts';

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });

describe.each(modes)('subscribeLog with another tab appending ($mode)', ({ worker }) => {
  it('gives each event appended after the call once, confirmed at once or not; none appended before', async () => {
    const tabA = await openTestStore({ ...model, worker });
    const tabB = await openTestStore({ ...model, worker, name: tabA.name });
    try {
      // Appended in this tab before the call (as an app that reads the log, then subscribes): never given.
      await tabB.append('before', [placed('before')]);
      const given: string[] = [];
      const stop = tabB.subscribeLog((events) => given.push(...events.map((event) => event.aggregateId)));
      let position = 0;
      // What a sync pull does for this client's events: the server confirms them, in order.
      const confirmAll = async () => {
        const pending = (await collect(tabA.exportLog())).map((line) => JSON.parse(line) as StoredEvent).filter((e) => !e.position);
        await tabA.importConfirmed(pending.map((event) => ({ ...event, position: ++position })));
      };
      await confirmAll(); // the event appended before the call: confirmed now, still never given
      const ids = Array.from({ length: 20 }, (_, i) => `o${i}`);
      for (const id of ids) {
        await tabA.append(id, [placed(id)]);
        if (Number(id.slice(1)) % 2 === 0) await confirmAll(); // confirmed before tab B may have looked
      }
      await confirmAll();
      await eventually(() => expect([...given].sort()).toEqual([...ids].sort()));
      stop();
    } finally {
      await tabB.close();
      await tabA.dispose();
    }
  });
});
