/**
 * The rules chronicle-server applies to its command line (cli.ts does the
 * I/O): numbers given to flags, and flags given twice. Pure: each throws a
 * UsageError, which the CLI prints before it exits 2.
 */

/** A command line the CLI cannot run: said in one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The largest number a flag takes: Node's timers and PostgreSQL's timeout
 * settings stop at 2^31 - 1 (about 24.8 days in milliseconds); a larger
 * timeout would fire at once (Node) or be refused (PostgreSQL).
 */
export const MAX_FLAG_INTEGER = 2_147_483_647;

/**
 * A flag's value as an integer: plain decimal digits only (no sign, space,
 * exponent, hex or empty value, which Number() would take), at least 1 (or 0
 * with `allowZero`) and at most `max`.
 */
export function integerFlag(name: string, value: string, options: { allowZero?: boolean; max?: number } = {}): number {
  const max = options.max ?? MAX_FLAG_INTEGER;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  if (!/^[0-9]+$/.test(value) || (!options.allowZero && Number(value) === 0)) {
    throw new UsageError(`--${name} must be a ${options.allowZero ? 'non-negative' : 'positive'} integer, got "${shown}"`);
  }
  const n = Number(value);
  if (n > max) throw new UsageError(`--${name} must be at most ${max}, got "${shown}"`);
  return n;
}

/**
 * Refuses a flag given twice unless it takes several values: node:util's
 * parseArgs keeps the last one, so `--log a --log b` would act on b without a
 * word.
 */
export function refuseRepeats(tokens: readonly { kind: string; name?: string }[], multiple: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined || multiple.has(token.name)) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
}
