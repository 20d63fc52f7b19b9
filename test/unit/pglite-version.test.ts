import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { majorOfVersionNum, parseMajorVersion, versionMismatchError } from '../../src/server/store/pglite-version.ts';

describe('PostgreSQL major versions, as PGlite data directories and servers give them', () => {
  it("reads a PG_VERSION file's major version, and nothing from anything else", () => {
    expect(parseMajorVersion('18\n')).toBe(18);
    expect(parseMajorVersion(' 19 ')).toBe(19);
    for (const text of [undefined, '', '18.1', '9.6', 'x', '18\n19', '-1', '12345']) expect(parseMajorVersion(text)).toBeUndefined();
  });

  it("reads server_version_num's major version", () => {
    expect(majorOfVersionNum('180006')).toBe(18);
    expect(majorOfVersionNum('190000')).toBe(19);
    expect(majorOfVersionNum('90624')).toBe(9);
    for (const value of [undefined, null, 180006, '', '18.6', 'abc', '1234', '123456789']) expect(majorOfVersionNum(value)).toBeUndefined();
  });

  it('says which version made the directory, which one PGlite runs, and what to do', () => {
    const error = versionMismatchError('/srv/data', 19, 18);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/\/srv\/data was made by PostgreSQL 19.*runs PostgreSQL 18/);
    expect(error.message).toContain('@electric-sql/pglite');
    expect(error.details).toEqual({ dataDir: '/srv/data', madeByPostgres: 19, pglitePostgres: 18 });
  });
});
