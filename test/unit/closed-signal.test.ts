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

  it("a listener that throws (an app's onError) keeps neither the others nor the close from going on", async () => {
    const signal = createClosedSignal();
    const heard: string[] = [];
    signal.onClosed(() => {
      throw new TypeError('onError is not a function');
    });
    signal.onClosed((e) => heard.push(e.reason));
    expect(() => signal.close(new StoreClosedError('s'))).not.toThrow();
    expect(heard).toEqual(['closed']);
    // Added after the close: told in a microtask, where a throw would be an unhandled error.
    signal.onClosed(() => {
      throw new Error('late');
    });
    signal.onClosed((e) => heard.push(`late:${e.reason}`));
    await Promise.resolve();
    expect(heard).toEqual(['closed', 'late:closed']);
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
