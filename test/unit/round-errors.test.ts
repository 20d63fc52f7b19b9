import { describe, expect, it } from 'vitest';
import { ChronicleError, StorageQuotaError } from '../../src/core/errors.ts';
import { answerClears, lastErrorOf, noting, roundError } from '../../worker/sync/round-errors.ts';

/** What a failed sync round reports (worker/sync/round-errors.ts), without a store or a server. */
describe('a failed round as the app sees it', () => {
  it("IndexedDB's failures get their typed form; typed errors and the store's own bugs pass as they are", () => {
    expect(roundError('shop', new DOMException('', 'QuotaExceededError'))).toBeInstanceOf(StorageQuotaError);
    expect(roundError('shop', new DOMException('gone', 'InvalidStateError'))).toMatchObject({ code: 'STORAGE' });
    const typed = new ChronicleError('OFFLINE', 'the browser is offline');
    expect(roundError('shop', typed)).toBe(typed);
    const bug = new TypeError('x is undefined');
    expect(roundError('shop', bug)).toBe(bug);
  });

  it("what the app's callbacks throw passes as it is, even a DOMException IndexedDB could have thrown", async () => {
    const aborted = new DOMException('the token refresh was aborted', 'AbortError');
    const callbacks = noting({
      getToken: () => {
        throw aborted;
      },
    });
    await expect(callbacks.getToken!()).rejects.toBe(aborted);
    expect(roundError('shop', aborted)).toBe(aborted);
    expect(noting({})).toEqual({});
  });

  it('lastError has a string code and a message that says something', () => {
    expect(lastErrorOf(new DOMException('', 'QuotaExceededError'))).toEqual({ code: 'ERROR', message: 'QuotaExceededError' });
    expect(lastErrorOf(new ChronicleError('OFFLINE', 'the browser is offline'))).toEqual({
      code: 'OFFLINE',
      message: 'the browser is offline',
    });
    expect(lastErrorOf('plain')).toEqual({ code: 'ERROR', message: 'plain' });
  });

  it('a pull the server answers clears only an error about reaching it or being let in', () => {
    for (const code of ['OFFLINE', 'UNAUTHORIZED', 'RATE_LIMITED', 'REQUEST_TIMEOUT', 'UNAVAILABLE', 'INTERNAL', 'HTTP_502', 'HTTP_403']) {
      expect(answerClears(code), code).toBe(true);
    }
    for (const code of [
      'FORBIDDEN',
      'PAYLOAD_TOO_LARGE',
      'ENCRYPTION_KEY',
      'STORAGE_QUOTA',
      'SYNC_SERVER_BEHIND',
      'SYNC_DIVERGED',
      'ERROR',
    ]) {
      expect(answerClears(code), code).toBe(false);
    }
  });
});
