import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/server/cli-args.ts';
import { oneLine, refuseEmptyValues, refuseOtherStoresFlags } from '../../src/server/cli-flags.ts';
import { maskPassword } from '../../src/server/shard-map.ts';

/** chronicle-server's command-line rules beyond numbers (src/server/cli-flags.ts): what an operator's typo meets. */
describe('chronicle-server flag rules', () => {
  it('an empty place or file is refused, saying what it would have done', () => {
    expect(() => refuseEmptyValues({ host: '' })).toThrow('--host needs a value; an empty one would listen on every network interface');
    expect(() => refuseEmptyValues({ data: '' })).toThrow(UsageError);
    expect(() => refuseEmptyValues({ 'shard-map': '' })).toThrow('--shard-map needs a value');
    expect(() => refuseEmptyValues({ tokens: '' })).toThrow('an empty one would start without authentication');
    expect(() => refuseEmptyValues({ host: '0.0.0.0', data: './d', tokens: 't.json', port: '' })).not.toThrow();
  });

  it('a flag of the store not in use is refused: the operator would tune nothing', () => {
    expect(() => refuseOtherStoresFlags({ 'pool-size': '5' }, 'pglite')).toThrow(
      '--pool-size applies to PostgreSQL only, and this runs on embedded PGlite (--data, --memory)',
    );
    expect(() => refuseOtherStoresFlags({ 'pg-statement-timeout': '5' }, 'pglite', 'migrate')).toThrow(/^migrate: --pg-statement-timeout/);
    expect(() => refuseOtherStoresFlags({ 'shared-buffers-mb': '64' }, 'postgres')).toThrow(
      '--shared-buffers-mb applies to embedded PGlite only',
    );
    expect(() => refuseOtherStoresFlags({ 'shared-buffers-mb': '64' }, 'pglite')).not.toThrow();
    expect(() => refuseOtherStoresFlags({ 'pool-size': '5', 'pg-writes-in-flight': '2' }, 'postgres')).not.toThrow();
  });

  it('a message is one line, control characters escaped, and bounded', () => {
    expect(oneLine('--log-format must be json or text, got "x\n{"level":"info"}"')).toBe(
      '--log-format must be json or text, got "x\\u000a{"level":"info"}"',
    );
    expect(oneLine('a\u2028b\tc\u0000')).toBe('a\\u2028b\\u0009c\\u0000');
    const long = oneLine('x'.repeat(5000));
    expect(long).toBe(`${'x'.repeat(1000)}… (4000 more characters)`);
  });

  it('a connection string in a message has its password masked, also when it is no URL', () => {
    expect(maskPassword('postgres://u:s3cret@127.0.0.1:99999/db')).toBe('postgres://u:***@127.0.0.1:99999/db');
    expect(maskPassword('a=postgres://app:p@ss/w@h/db')).toBe('a=postgres://app:***@h/db');
    expect(maskPassword(`postgres://u:${'p'.repeat(200)}@h/db`)).toBe('postgres://u:***@h/db');
    expect(maskPassword('postgres://u@h/db')).toBe('postgres://u@h/db');
  });
});
