import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.ts';
import { createStoreSource, exposeToDevtools, mountDevtools } from '../../src/devtools/index.ts';

/** chronicle/devtools given what plain JavaScript may pass, or called where it cannot work: a ConfigError saying why. */
describe('devtools entry points', () => {
  const store = {} as never;

  it('mountDevtools without an element to mount into', () => {
    expect(() => mountDevtools(store, null as never)).toThrow(new ConfigError('mountDevtools needs an element to mount into'));
  });

  it('mountDevtools given no store (null, {}): a ConfigError before anything goes into the element (a TypeError, with the panel left in it, before)', () => {
    const appended: unknown[] = [];
    const element = { append: (...nodes: unknown[]) => appended.push(...nodes) } as never;
    for (const bad of [null, undefined, {}, { name: 'not a store' }]) {
      expect(() => mountDevtools(bad as never, element)).toThrow(ConfigError);
    }
    expect(appended).toEqual([]);
  });

  it('aggregates that are not a list of definitions (a TypeError later, before)', () => {
    for (const aggregates of [5, {}, [null], [{}]]) {
      expect(() => createStoreSource(store, { aggregates: aggregates as never })).toThrow(ConfigError);
    }
  });

  it('exposeToDevtools outside a page, without a transport (a ReferenceError: window is not defined, before)', () => {
    expect(typeof window).toBe('undefined'); // Node: as in a worker, there is no window
    expect(() => exposeToDevtools(store)).toThrow(/exposeToDevtools needs a browser page \(window\), or options.transport/);
  });
});
