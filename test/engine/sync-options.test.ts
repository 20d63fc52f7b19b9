// openStore's sync options that cannot work are a ConfigError naming the option, at open, before anything
// is stored or sent (README: "options it cannot work with"). Before, these were accepted and then failed at
// every round in ways that pointed elsewhere: a log name the server refuses (400 BAD_REQUEST each round,
// events pending for good), a URL with a query or fragment (404 "No route", read as a missing server), a URL
// with credentials or a token a header cannot carry (OFFLINE, "Sync server unreachable").
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { logNameSchema } from '../../src/core/protocol.ts';
import { isLogName } from '../../src/core/text-rules.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { modes } from './modes.ts';

const URL_OK = 'http://127.0.0.1:9';

describe.each(modes)('sync options refused at open ($mode)', ({ worker }) => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a log name with a slash', { log: '../x' }, /sync\.log must be a log name/],
    ['a log name with a space', { log: 'has space' }, /sync\.log must be a log name/],
    ['a log name of 65 characters', { log: 'a'.repeat(65) }, /sync\.log must be a log name/],
    ['a log name starting with "_"', { log: '_x' }, /sync\.log must be a log name/],
    ['an empty log name', { log: '' }, /sync\.log must be a log name/],
    ['a log that is not a string', { log: 7 }, /sync\.log must be a log name/],
    ['a URL with a query', { url: `${URL_OK}/?x=1` }, /without a query or fragment/],
    ['a URL with a fragment', { url: `${URL_OK}/#frag` }, /without a query or fragment/],
    ['a URL with credentials', { url: 'http://user:secret@127.0.0.1:9' }, /must not hold credentials/],
    ['a token with a line break', { token: 'abc\r\nX-Evil: 1' }, /sync\.token must be/],
    ['an empty token', { token: '' }, /sync\.token must be/],
    ['a token outside ASCII', { token: 'jeton-été' }, /sync\.token must be/],
    // Called in every round: a non-function failed each one with a TypeError (code ERROR).
    ['a getToken that is not a function', { getToken: 'abc' }, /sync\.getToken must be a function \(got "abc"\)/],
    ['a fetch that is not a function', { fetch: 'x' }, /sync\.fetch must be a function/],
    ['live that is not a boolean', { live: 'no' }, /sync\.live must be a boolean/],
    // A misspelt option did nothing; a function under an unknown key could not be sent to the worker (DataCloneError).
    ['an option sync does not have', { onError: () => undefined }, /sync\.onError is not a sync option; they are url, log, token/],
    ['a misspelt option', { pollIntervalMS: 5000 }, /sync\.pollIntervalMS is not a sync option/],
  ];
  it.each(cases)('%s', async (_what, sync, message) => {
    const opening = openTestStore({ ...model, worker, sync: { url: URL_OK, live: false, ...sync } as never });
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toThrow(message);
  });

  it('the credentials are not repeated in the error', async () => {
    const error = await openTestStore({ ...model, worker, sync: { url: 'http://user:secret@127.0.0.1:9/base', live: false } }).catch(
      (thrown: unknown) => thrown,
    );
    expect(JSON.stringify(error)).not.toContain('secret');
    expect((error as ConfigError).message).not.toContain('secret');
  });

  it('what works: a base path, a trailing slash, a log of every allowed character, a token of printable ASCII (a newline after it too)', async () => {
    const store = await openTestStore({
      ...model,
      worker,
      // A token read from a file keeps its newline: fetch strips whitespace around a header's value.
      sync: { url: `${URL_OK}/chronicle/`, log: 'Tenant-1.eu_West', token: 'eyJhbGci.OiJIUzI1NiJ9~+/=\n', live: false },
    });
    await store.sync.pause();
    await store.dispose();
  });
});

describe('the log name rule', () => {
  it('is the one the server applies (logNameSchema)', () => {
    const samples = ['a', 'A9', '0', 'x'.repeat(64), 'x'.repeat(65), '', '_a', '-a', '.a', 'a.b_c-d', 'a b', 'a/b', 'é', 'a\u0000', 'a%2F'];
    for (const sample of samples) expect([sample, isLogName(sample)]).toEqual([sample, logNameSchema.safeParse(sample).success]);
  });
});
