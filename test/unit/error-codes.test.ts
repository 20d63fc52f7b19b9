// Every code the store raises is documented (README, Errors) and typed: an app switches on
// `error.code`, and a code it cannot look up, or a misspelt one that compiles, is a bug it ships.
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { STORE_ERROR_CODES } from '../../src/core/error-codes.ts';
import { ChronicleError, errorFromJSON, type ChronicleErrorCode } from '../../src/core/errors.ts';
import { ERROR_STATUS } from '../../src/core/protocol.ts';

/** The README's Errors table: its rows' second column, as the codes it names. */
function documentedCodes(): Set<string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n### Errors\n')[1]?.split('\n### ')[0] ?? '';
  const codes = new Set<string>();
  for (const line of section.split('\n')) {
    const cells = line.split(' | ');
    if (!line.startsWith('| `') || cells.length < 3) continue;
    for (const [, code] of cells[1]!.matchAll(/`([A-Z][A-Z0-9_<>a-z]*)`/g)) codes.add(code!);
  }
  return codes;
}

describe('error codes', () => {
  it('documents every code the store raises in the README Errors table', () => {
    const documented = documentedCodes();
    expect(STORE_ERROR_CODES.filter((code) => !documented.has(code))).toEqual([]);
  });

  it('names in that table only codes the store or the sync server raise', () => {
    const known = new Set<string>([...STORE_ERROR_CODES, ...Object.keys(ERROR_STATUS), 'HTTP_<status>']);
    expect([...documentedCodes()].filter((code) => !known.has(code))).toEqual([]);
  });

  it('types code, so a misspelt comparison does not compile, and keeps a newer server code as it came', () => {
    // Checked by `npm run typecheck`: the store's, the server's and HTTP_<status> codes are codes; a misspelt one is not.
    expectTypeOf<'CONCURRENCY' | 'RATE_LIMITED' | 'HTTP_502'>().toExtend<ChronicleErrorCode>();
    expectTypeOf<'CONCURRENCY_ERROR'>().not.toExtend<ChronicleErrorCode>();
    expectTypeOf<ChronicleError['code']>().toEqualTypeOf<ChronicleErrorCode>();
    expect(errorFromJSON({ code: 'FROM_A_NEWER_SERVER', name: 'ChronicleError', message: 'm', details: {} }).code).toBe(
      'FROM_A_NEWER_SERVER',
    );
  });

  it('rebuilds an error whose details are missing or of other shapes (another engine version) as a ChronicleError with its code and message', () => {
    const sent = [
      { code: 'UNKNOWN_EVENT_TYPE', message: 'no details' },
      { code: 'UNKNOWN_EVENT_TYPE', message: 'known is no list', details: { eventType: 'X', known: 5 } },
      { code: 'ENCRYPTION_KEY', message: 'a reason this version lacks', details: { reason: 'zz' } },
      { code: 'CONCURRENCY', message: 'details as an array', details: [] },
    ];
    for (const error of sent) {
      const back = errorFromJSON({ name: 'ChronicleError', ...error } as never);
      expect(back, error.message).toBeInstanceOf(ChronicleError);
      expect({ code: back.code, message: back.message }).toEqual({ code: error.code, message: error.message });
    }
  });
});
