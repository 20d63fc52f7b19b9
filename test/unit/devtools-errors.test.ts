// The devtools' errors: ChronicleErrors like every other Chronicle error, and the same class on both sides of the bridge.
import { describe, expect, it } from 'vitest';
import { ChronicleError, StoreClosedError, ValidationError } from '../../src/core/index.ts';
import { errorFromWire, errorToWire } from '../../src/devtools/bridge-errors.ts';
import { DevtoolsError, RemoteError } from '../../src/devtools/index.ts';

/** The error as the panel gets it: through JSON, as chrome.runtime ports carry it. */
const across = (error: unknown) => errorFromWire(JSON.parse(JSON.stringify(errorToWire(error))));

describe('devtools errors', () => {
  it('are ChronicleErrors with a code, their own name and a JSON form', () => {
    const error = new DevtoolsError('EXPIRED', 'gone');
    expect(error).toBeInstanceOf(ChronicleError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('DevtoolsError');
    expect(error.toJSON()).toEqual({ code: 'EXPIRED', name: 'DevtoolsError', message: 'gone', details: {} });
    const remote = new RemoteError('boom', 'TypeError');
    expect(remote).toBeInstanceOf(ChronicleError);
    expect(remote).toMatchObject({ name: 'RemoteError', code: 'REMOTE', remoteName: 'TypeError', details: { name: 'TypeError' } });
  });

  it('cross the bridge as their class, with code, message and details', () => {
    const validation = new ValidationError('imported', 'line 3', 'id: required');
    const back = across(validation);
    expect(back).toBeInstanceOf(ValidationError);
    expect(back).toMatchObject({ name: 'ValidationError', code: 'VALIDATION', message: validation.message, details: { path: 'line 3' } });
    expect(across(new StoreClosedError('db'))).toBeInstanceOf(StoreClosedError);
    const devtools = across(new DevtoolsError('NO_AGGREGATE', 'no Order', { aggregateType: 'Order' }));
    expect(devtools).toBeInstanceOf(DevtoolsError);
    expect(devtools).toMatchObject({
      name: 'DevtoolsError',
      code: 'NO_AGGREGATE',
      message: 'no Order',
      details: { aggregateType: 'Order' },
    });
  });

  it('keeps a store error whose code a devtools error shares (the sync server BAD_REQUEST) a store error', () => {
    const back = across(new ChronicleError('BAD_REQUEST', 'the server refused it', { status: 400 }));
    expect(back).not.toBeInstanceOf(DevtoolsError);
    expect(back).toMatchObject({ name: 'ChronicleError', code: 'BAD_REQUEST', details: { status: 400 } });
  });

  it('sends what the page throws that is no ChronicleError as a RemoteError, and never fails on it', () => {
    expect(across(new TypeError('x is undefined'))).toMatchObject({
      name: 'RemoteError',
      code: 'REMOTE',
      remoteName: 'TypeError',
      message: 'x is undefined',
    });
    expect(across('a string')).toMatchObject({ name: 'RemoteError', code: 'REMOTE', message: 'a string' });
    expect(across(Object.create(null))).toMatchObject({ name: 'RemoteError', message: 'a value that cannot be shown' });
    // Details JSON cannot hold go; the error stays.
    expect(across(new ChronicleError('CONFIG', 'bad option', { limit: 1n }))).toMatchObject({ code: 'CONFIG', message: 'bad option' });
    expect(errorFromWire({ nonsense: true })).toBeInstanceOf(RemoteError);
  });
});
