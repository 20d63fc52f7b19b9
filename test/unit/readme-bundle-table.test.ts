import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README's bundle size table against `.size-limit.mjs`, which CI checks the build against (`npm run size`):
 * its budgets drifted from the checked ones once, unnoticed, and showed a size over the budget it printed.
 */
const root = join(import.meta.dirname, '..', '..');

interface SizeCheck {
  name: string;
  limit: string;
}

/** The table's rows under "### Bundle size": part, size, budget. */
async function readmeRows(): Promise<{ part: string; size: number; budget: number }[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Bundle size'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  return table
    .split('\n')
    .filter((line) => /^\|.*\| [\d.]+ kB \| [\d.]+ kB \|$/.test(line))
    .map((line) => {
      const [part = '', size = '', budget = ''] = line.slice(1, -1).split(' | ');
      return { part: part.trim(), size: parseFloat(size), budget: parseFloat(budget) };
    });
}

describe('README bundle size table', () => {
  it('lists the budgets .size-limit.mjs checks, in its order, with sizes within them', async () => {
    const checks = ((await import(join(root, '.size-limit.mjs'))) as { default: SizeCheck[] }).default;
    const rows = await readmeRows();
    expect(rows.map((row) => row.budget)).toEqual(checks.map((check) => parseFloat(check.limit)));
    for (const row of rows) expect(row.size, row.part).toBeLessThanOrEqual(row.budget);
  });
});
