import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { DEFAULT_SERVER_LIMITS, MIN_HEADER_BYTES, resolveLimits } from '../../src/server/limits.ts';

/** createSyncServer's limits (src/server/limits.ts): what a server can be given, and what would leave it unusable. */
describe('server limits', () => {
  it('are the defaults unless given, each a positive integer', () => {
    expect(resolveLimits()).toEqual(DEFAULT_SERVER_LIMITS);
    expect(resolveLimits({ maxEventsPerPush: 10 }).maxEventsPerPush).toBe(10);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => resolveLimits({ maxEventBytes: bad })).toThrow(ConfigError);
  });

  it('refuse a header limit no request can meet (every request, /health too, answered 431)', () => {
    expect(resolveLimits({ maxHeaderBytes: MIN_HEADER_BYTES }).maxHeaderBytes).toBe(1024);
    expect(() => resolveLimits({ maxHeaderBytes: 10 })).toThrow('limits.maxHeaderBytes must be at least 1024');
  });
});
