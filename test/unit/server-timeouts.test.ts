import { describe, expect, it } from 'vitest';
import { resolveTimeouts } from '../../src/server/http/context.ts';
import { resolvePostgresTimeouts } from '../../src/server/store/postgres.ts';

/** Node's timers fire at once for a delay over 2^31 - 1 ms (with a warning), and PostgreSQL refuses such settings. */
const MAX = 2_147_483_647;

describe('server timeouts', () => {
  it('take 1 to 2^31 - 1 milliseconds', () => {
    expect(resolveTimeouts({ storeMs: MAX }).storeMs).toBe(MAX);
    for (const bad of [0, -1, 1.5, MAX + 1, 3_000_000_000]) {
      expect(() => resolveTimeouts({ storeMs: bad })).toThrow(
        `timeouts.storeMs must be a positive integer (milliseconds) of at most ${MAX}`,
      );
    }
  });

  it('an unknown timeout is refused, also one named as a member of every object', () => {
    for (const key of ['bogus', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(() => resolveTimeouts(JSON.parse(`{"${key}": 5}`) as Record<string, number>)).toThrow(`Unknown timeout "${key}"`);
    }
  });

  it('replyMs (a reply the client does not read) like the others, 30 s by default', () => {
    expect(resolveTimeouts().replyMs).toBe(30_000);
    expect(resolveTimeouts({ replyMs: 250 }).replyMs).toBe(250);
    expect(resolveTimeouts({ replyMs: MAX }).replyMs).toBe(MAX);
    for (const bad of [0, -1, 1.5, Number.NaN, MAX + 1]) {
      expect(() => resolveTimeouts({ replyMs: bad })).toThrow(
        `timeouts.replyMs must be a positive integer (milliseconds) of at most ${MAX}`,
      );
    }
  });

  it('PostgreSQL timeouts too, and the derived reply timeout stays within the bound', () => {
    expect(() => resolvePostgresTimeouts({ statementTimeoutMs: 3_000_000_000 })).toThrow(
      `statementTimeoutMs must be a positive integer (milliseconds) of at most ${MAX}`,
    );
    expect(resolvePostgresTimeouts({ statementTimeoutMs: MAX }).queryTimeoutMs).toBe(MAX);
    expect(resolvePostgresTimeouts({ statementTimeoutMs: 1000 }).queryTimeoutMs).toBe(3000);
  });
});
