import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { withEitherSignal } from '../../src/client/closing.ts';

/** The signal store.compact() and projection rebuilds run with (src/client/closing.ts). */
describe('withEitherSignal', () => {
  it('aborts when any given signal does, with its reason', async () => {
    const store = new AbortController();
    const caller = new AbortController();
    const seen = await withEitherSignal([caller.signal, store.signal], async (signal) => {
      store.abort('closing');
      return [signal.aborted, signal.reason];
    });
    expect(seen).toEqual([true, 'closing']);
    const already = await withEitherSignal([AbortSignal.abort('gone'), undefined], async (signal) => signal.reason);
    expect(already).toBe('gone');
  });

  it('leaves no listener on the given signals once the operation ends, however often it runs', async () => {
    const store = new AbortController();
    for (let i = 0; i < 50; i++) await withEitherSignal([store.signal], async () => undefined);
    await withEitherSignal([store.signal], async () => Promise.reject(new Error('failed'))).catch(() => undefined);
    expect(getEventListeners(store.signal, 'abort')).toHaveLength(0);
  });
});
