// sync.getToken is the app's: what it returns and throws must not read as something else. A token a header
// cannot carry (a line break in it) made fetch refuse the request, reported as OFFLINE ("Sync server
// unreachable"); it is now a ConfigError saying so. What getToken throws reaches syncNow() as it is (the
// app's own error), and status().lastError says it with the code 'ERROR', whatever was thrown: a value
// without text made recording the error throw. Pending events wait, and sync goes on once the token is right.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { openClient, startServer, type Harness } from './harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe('sync.getToken', () => {
  const cases: [string, () => string, (error: unknown) => void, { code: string; message: RegExp }][] = [
    [
      'returns a token with a line break',
      () => 'test-token\r\nX-Injected: 1',
      (error) => expect(error).toBeInstanceOf(ConfigError),
      { code: 'CONFIG', message: /sync\.getToken returned a token an HTTP header cannot carry/ },
    ],
    [
      'throws an Error',
      () => {
        throw new TypeError('no session');
      },
      (error) => expect(error).toMatchObject({ name: 'TypeError', message: 'no session' }),
      { code: 'ERROR', message: /^no session$/ },
    ],
    [
      'throws a value without text',
      () => {
        throw Object.create(null) as object;
      },
      (error) => expect(Object.getPrototypeOf(error)).toBeNull(),
      { code: 'ERROR', message: /cannot be shown/ },
    ],
  ];

  it.each(cases)(
    '%s: syncNow rejects with it, lastError says so, and sync goes on once the token is right',
    async (_what, bad, check, last) => {
      let broken = true;
      const log = `token-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      const client = await openClient(harness.url, { log, getToken: () => (broken ? bad() : 'test-token') });
      try {
        await client.append('order-1', [item('a')]);
        const error = await client.sync.syncNow().then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        check(error);
        const status = await client.sync.status();
        expect(status.pending).toBe(1);
        expect(status.lastError).toMatchObject({ code: last.code, message: expect.stringMatching(last.message) });
        broken = false;
        await client.sync.syncNow();
        expect(await client.sync.status()).toMatchObject({ pending: 0, lastError: null });
      } finally {
        await client.dispose();
      }
    },
  );
});
