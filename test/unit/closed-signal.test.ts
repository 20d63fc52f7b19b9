import { describe, expect, it } from 'vitest';
import { StoreClosedError } from '../../src/core/errors.ts';
import { createClosedSignal } from '../../src/client/closed-signal.ts';

describe('createClosedSignal', () => {
  it('tells each listener once, with the first close only; a removed listener hears nothing', () => {
    const signal = createClosedSignal();
    const heard: string[] = [];
    signal.onClosed((e) => heard.push(`a:${e.reason}`));
    const removeB = signal.onClosed(() => heard.push('b'));
    removeB();
    signal.close(new StoreClosedError('s', 'deleted'));
    signal.close(new StoreClosedError('s'));
    expect(heard).toEqual(['a:deleted']);
  });

  it('a listener added after the close hears it in a microtask, unless removed first', async () => {
    const signal = createClosedSignal();
    signal.close(new StoreClosedError('s', 'engine-stopped'));
    const heard: string[] = [];
    signal.onClosed((e) => heard.push(e.reason));
    signal.onClosed(() => heard.push('removed'))();
    expect(heard).toEqual([]);
    await Promise.resolve();
    expect(heard).toEqual(['engine-stopped']);
  });
});
