import { describe, expect, it } from 'vitest';
import { InUseError } from '../../src/core/errors.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { modes } from './modes.ts';

/**
 * One run of a named replay job at a time, in a store and in all tabs (two
 * stores of one name here stand for two tabs: Web Locks in a browser, in Node
 * the stores of one process, as for sync and reactions). Two runs at once
 * would each hand every event over and race on the checkpoint; the second is
 * refused with IN_USE instead. In Node the second store ran it too before:
 * every event handed over twice.
 */

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe.each(modes)('a named replay job runs once at a time ($mode)', ({ worker }) => {
  it('a second tab running the same job meanwhile gets IN_USE; each event is handed over once; forget waits too', async () => {
    const a = await openTestStore({ ...model, worker });
    const b = await openTestStore({ ...model, worker, name: a.name });
    try {
      for (let i = 0; i < 10; i++) await a.append(`o${i}`, [item(`s${i}`)]);
      const handled = new Map<string, number>();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const first = a.replay({
        name: 'send-mails',
        handler: async (event) => {
          handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
          await gate;
        },
      });
      while (handled.size === 0) await tick();

      const again = await a.replay({ name: 'send-mails', handler: () => undefined }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(InUseError);
      expect(again).toMatchObject({ code: 'IN_USE', kind: 'job', target: 'send-mails', where: 'this-store', action: 'run' });
      expect((again as Error).message).toBe('Cannot run the job "send-mails": this store runs it');
      const second = await b.replay({ name: 'send-mails', handler: () => undefined }).catch((e: unknown) => e);
      expect(second).toMatchObject({ code: 'IN_USE', where: 'another-tab', action: 'run' });
      expect((second as Error).message).toBe('Cannot run the job "send-mails": another tab runs it');
      await expect(b.forget({ kind: 'job', name: 'send-mails' })).rejects.toMatchObject({ code: 'IN_USE', where: 'another-tab' });
      // Jobs without a name are not checkpointed, and run side by side.
      expect((await b.replay({ handler: () => undefined })).processed).toBe(10);

      release();
      expect((await first).processed).toBe(10);
      expect(handled.size).toBe(10);
      expect(Math.max(...handled.values())).toBe(1);
      // Once it has finished, the other tab may run it (from the start: it was done) and forget it.
      expect((await b.replay({ name: 'send-mails', handler: () => undefined })).processed).toBe(10);
      expect(await b.forget({ kind: 'job', name: 'send-mails' })).toEqual({ forgotten: true });
    } finally {
      await b.close();
      await a.dispose();
    }
  });
});
