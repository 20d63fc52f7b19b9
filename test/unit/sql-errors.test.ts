import { describe, expect, it } from 'vitest';
import { SyncError } from '../../src/server/errors.ts';
import { mapPgError, resolvePostgresTimeouts } from '../../src/server/store/postgres.ts';
import { connectRefusal, currentRole } from '../../src/server/store/schema-access.ts';
import { mapPgliteError, unavailableState } from '../../src/server/store/sql-errors.ts';

/** A database failure as the drivers report it: a message and a SQLSTATE. */
const failure = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('database failures the server answers with 503 (sql-errors.ts)', () => {
  it('classifies SQLSTATEs: bounded waits, a database that cannot serve now, and everything else', () => {
    expect(unavailableState('57014')).toBe('timeout'); // statement_timeout
    expect(unavailableState('55P03')).toBe('timeout'); // lock_timeout
    for (const code of ['08006', '53100', '53200', '53300', '57P01', '57P03', '58030']) expect(unavailableState(code)).toBe('unavailable');
    for (const code of ['42P01', '42601', '23505', '22012', '40P01', '5', '']) expect(unavailableState(code)).toBeUndefined();
  });

  it('PGlite: a full disk is 503 store-unreachable with the cause, a lock timeout 503 store-timeout; a bug stays itself', () => {
    const full = mapPgliteError(failure('53100', 'could not extend file "base/5/16410": No space left on device'));
    expect(full).toBeInstanceOf(SyncError);
    expect(full).toMatchObject({
      code: 'UNAVAILABLE',
      details: { reason: 'store-unreachable', cause: expect.stringContaining('No space left') },
    });
    expect(mapPgliteError(failure('55P03', 'canceling statement due to lock timeout'))).toMatchObject({
      details: { reason: 'store-timeout' },
    });
    const bug = failure('42601', 'syntax error');
    expect(mapPgliteError(bug)).toBe(bug);
  });

  it('PostgreSQL: lock and statement timeouts are store-timeout; a pool ended by a shutdown and a full disk are 503', () => {
    expect(mapPgError(failure('55P03', 'canceling statement due to lock timeout'))).toMatchObject({
      code: 'UNAVAILABLE',
      details: { reason: 'store-timeout' },
    });
    expect(mapPgError(new Error('Cannot use a pool after calling end on the pool'))).toMatchObject({
      code: 'UNAVAILABLE',
      details: { reason: 'store-unreachable' },
    });
    expect(mapPgError(failure('53100', 'could not extend file'))).toMatchObject({ code: 'UNAVAILABLE' });
    expect(mapPgError(failure('ECONNRESET', 'read ECONNRESET'))).toMatchObject({ details: { reason: 'store-unreachable' } });
    const bug = failure('42601', 'syntax error');
    expect(mapPgError(bug)).toBe(bug);
  });

  it('ends a session idle in a transaction after the statement timeout unless told otherwise (a lost server frees its locks)', () => {
    expect(resolvePostgresTimeouts()).toMatchObject({ statementTimeoutMs: 10_000, idleInTransactionTimeoutMs: 10_000 });
    expect(resolvePostgresTimeouts({ statementTimeoutMs: 3_000 })).toMatchObject({ idleInTransactionTimeoutMs: 3_000 });
    expect(resolvePostgresTimeouts({ statementTimeoutMs: 3_000, idleInTransactionTimeoutMs: 500 })).toMatchObject({
      idleInTransactionTimeoutMs: 500,
    });
  });

  it('names the configured role and the GRANT when the database refuses it a connection', async () => {
    const unreachable = { role: 'app_writer', query: () => Promise.reject(new Error('permission denied for database "shop"')) };
    const role = await currentRole(unreachable);
    expect(role).toBe('app_writer');
    const refused = failure('42501', 'permission denied for database "shop"');
    expect(connectRefusal(role, refused)).toBe(
      'Role "app_writer" may not connect to database "shop" (CONNECT revoked). As its owner: GRANT CONNECT ON DATABASE "shop" TO "app_writer";',
    );
    expect(connectRefusal(role, failure('42501', 'permission denied for table chronicle_pages'))).toBeUndefined();
  });
});
