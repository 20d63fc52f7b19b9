/**
 * README.md's TypeScript examples, compiled against the packed package as an
 * app that installed it would compile them: an example that drifts from the API
 * (an option renamed, a return shape changed, an import gone) fails here, at its
 * README line.
 *
 * The conventions, for whoever edits the README:
 *
 * - Every ```ts and ```tsx block is checked, in README order, and continues the
 *   blocks before it: it may use what they declared (`Order`, `Revenue`,
 *   `store`…) and declare a name again (its own `store`), as the next part of
 *   one app. Its imports may sit anywhere in it, and hold for later blocks too.
 * - The first block is the app's model: a block may import it as `./model.js`
 *   (the sync server's does).
 * - What the examples leave to the app (a payment provider, its views, an auth
 *   client, a test runner's `expect`) is declared in
 *   fixture/readme/placeholders.d.ts, typed as an app would have it. Any other
 *   name an example uses without defining it fails: define it in the README, or
 *   declare it there if it really is the app's business.
 * - A block that must not be checked (pseudo-code, a sketch) gets the line
 *   `<!-- not checked: why -->` right before its fence. Keep these rare (this
 *   test allows two); any other HTML comment right before a ts fence is an
 *   error, so a misspelt marker cannot skip or check a block by accident.
 *   Elide with comments (`// ...`), which keep a block TypeScript.
 * - Blocks compile as .tsx (so no `<T>value` casts), under
 *   fixture/readme/tsconfig.json: the consumer fixture's strict flags
 *   (types/tsconfig.json) but for noUnusedLocals, noUnusedParameters and
 *   noPropertyAccessFromIndexSignature, which judge style, not the API.
 *
 * The README is read from the installed package (what npm shows). One tsc run
 * compiles it together with a canary, a small markdown with a known mistake
 * that must be reported at its own line, so a harness that stopped checking
 * anything fails as well.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { mapDiagnostics, parseDiagnostics, readmeBlocks, readmeProgram, type Diagnostic, type GeneratedFile } from './readme-blocks.ts';

const app = inject('consumerApp');
const exec = promisify(execFile);
const DIR = 'readme';

/** Three blocks as a README has them: a store, a block that is not checked, then a mistake in a list item that uses the store. */
const CANARY = [
  '# Canary',
  '',
  '```ts',
  "import { openStore } from 'chronicle';",
  "const store = await openStore({ name: 'canary', worker: false });",
  '```',
  '',
  '<!-- not checked: not TypeScript -->',
  '```ts',
  'this is not TypeScript',
  '```',
  '',
  '- in a list item:',
  '',
  '  ```ts',
  "  await store.append('a-1', [], { expectedVersoin: 'any' });",
  '  ```',
  '',
].join('\n');

async function tsc(): Promise<string> {
  try {
    const { stdout } = await exec(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', `${DIR}/tsconfig.json`, '--pretty', 'false'],
      {
        cwd: app,
        timeout: 120_000,
      },
    );
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return stdout || stderr || String(error);
  }
}

describe('README.md examples', () => {
  const readme = { blocks: [] as ReturnType<typeof readmeBlocks>, files: [] as GeneratedFile[] };
  const canary = { files: [] as GeneratedFile[] };
  let diagnostics: Diagnostic[] = [];

  beforeAll(async () => {
    readme.blocks = readmeBlocks(await readFile(join(app, 'node_modules/chronicle/README.md'), 'utf8'));
    readme.files = readmeProgram(readme.blocks);
    canary.files = readmeProgram(readmeBlocks(CANARY, 'canary.md'), 'canary-');
    for (const file of [...readme.files, ...canary.files]) await writeFile(join(app, DIR, file.name), file.text);
    diagnostics = parseDiagnostics(await tsc());
  });

  it('every ts / tsx block type-checks against the packed package', () => {
    expect(readme.blocks.length).toBeGreaterThanOrEqual(10);
    const skipped = readme.blocks.filter((block) => block.skip !== undefined).map((block) => `README.md:${block.line}: ${block.skip}`);
    expect(skipped.length, `blocks marked "not checked":\n${skipped.join('\n')}`).toBeLessThanOrEqual(2);
    expect(mapDiagnostics(diagnostics, readme.files, DIR)).toEqual([]);
    // Nothing else either: the placeholders, and the scaffolding around the canary.
    const generated = new Set([...readme.files, ...canary.files].map((file) => `${DIR}/${file.name}`));
    expect(diagnostics.filter((diagnostic) => !generated.has(diagnostic.path))).toEqual([]);
  });

  it('a broken example fails, at its own line (the canary)', () => {
    const reported = mapDiagnostics(diagnostics, canary.files, DIR, 'canary.md');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/^canary\.md:16:35 TS\d+: .*'expectedVersoin'/);
  });

  it('refuses a marker it does not know', () => {
    expect(() => readmeBlocks('<!-- not chekced: typo -->\n```ts\nx\n```\n')).toThrow(/README\.md:1: unknown marker/);
  });
});
