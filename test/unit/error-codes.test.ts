// Every code the store raises is documented (README, Errors) and typed: an app switches on
// `error.code`, and a code it cannot look up, or a misspelt one that compiles, is a bug it ships.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
    const error: ChronicleError = errorFromJSON({ code: 'CONCURRENCY', name: 'ConcurrencyError', message: 'm', details: {} });
    // @ts-expect-error: 'CONCURRENCY_ERROR' is no ChronicleErrorCode, so the comparison is flagged.
    const misspelt = error.code === 'CONCURRENCY_ERROR';
    expect(misspelt).toBe(false);
    const codes: ChronicleErrorCode[] = ['CONCURRENCY', 'RATE_LIMITED', 'HTTP_502'];
    expect(codes).toHaveLength(3);
    expect(errorFromJSON({ code: 'FROM_A_NEWER_SERVER', name: 'ChronicleError', message: 'm', details: {} }).code).toBe(
      'FROM_A_NEWER_SERVER',
    );
  });
});
