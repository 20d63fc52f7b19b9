import { describe, expect, it } from 'vitest';
import { integerFlag, MAX_FLAG_INTEGER, refuseRepeats, UsageError } from '../../src/server/cli-args.ts';

describe("chronicle-server's number flags", () => {
  it('take plain decimal digits', () => {
    expect(integerFlag('rate', '100')).toBe(100);
    expect(integerFlag('port', '0', { allowZero: true })).toBe(0);
    expect(integerFlag('store-timeout', String(MAX_FLAG_INTEGER))).toBe(MAX_FLAG_INTEGER);
  });

  it.each(['', ' 1e4 ', '1e4', '0x10', '-1', '+5', '1.5', 'soon', '10 '])('refuse %j, which Number() would read', (value) => {
    expect(() => integerFlag('port', value, { allowZero: true })).toThrow(UsageError);
    expect(() => integerFlag('port', value, { allowZero: true })).toThrow(`--port must be a non-negative integer, got "${value}"`);
  });

  it('refuse 0 unless it is allowed', () => {
    expect(() => integerFlag('pool-size', '0')).toThrow('--pool-size must be a positive integer, got "0"');
  });

  it('refuse what is over the bound: a timeout past 2^31 - 1 ms would fire at once in Node', () => {
    expect(() => integerFlag('store-timeout', '3000000000')).toThrow(
      `--store-timeout must be at most ${MAX_FLAG_INTEGER}, got "3000000000"`,
    );
    expect(() => integerFlag('batch-events', '99999999999999999999')).toThrow(UsageError);
    expect(() => integerFlag('port', '70000', { allowZero: true, max: 65_535 })).toThrow('--port must be at most 65535');
  });
});

describe('flags given twice', () => {
  const option = (name: string) => ({ kind: 'option', name });
  it('are refused unless the flag takes several values', () => {
    expect(() => refuseRepeats([option('log'), option('to'), option('log')], new Set())).toThrow('--log is given more than once');
    expect(() => refuseRepeats([option('database-url'), option('database-url')], new Set(['database-url']))).not.toThrow();
    expect(() => refuseRepeats([option('log'), { kind: 'positional' }, { kind: 'positional' }], new Set())).not.toThrow();
  });
});
