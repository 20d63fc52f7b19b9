/**
 * `npm run cycles` (dpdm over src/ and worker/, part of `npm test`) refuses an
 * import circle: planted in a scratch tree, the same command fails and names
 * the files; on the repo it passes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cyclesCommand = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[
  'cycles'
]!;
const scratch = mkdtempSync(join(tmpdir(), 'chronicle-cycles-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the `cycles` script in `cwd`; its exit code and output. */
async function runCycles(cwd: string): Promise<{ code: number; output: string }> {
  const env = {
    ...process.env,
    PATH: `${join(repoRoot, 'node_modules', '.bin')}${delimiter}${process.env['PATH'] ?? ''}`,
    FORCE_COLOR: '0',
  };
  try {
    const { stdout, stderr } = await exec('sh', ['-c', cyclesCommand], { cwd, env, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('import circles', () => {
  it('given two modules that import each other, when the check runs, then it fails and names them', async () => {
    mkdirSync(join(scratch, 'src', 'core'), { recursive: true });
    mkdirSync(join(scratch, 'worker'), { recursive: true });
    writeFileSync(
      join(scratch, 'src', 'core', 'planted-a.ts'),
      "import { b } from './planted-b.ts';\nexport const a = (): number => b() + 1;\n",
    );
    writeFileSync(
      join(scratch, 'src', 'core', 'planted-b.ts'),
      "import { a } from './planted-a.ts';\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n",
    );
    writeFileSync(join(scratch, 'worker', 'fine.ts'), 'export const fine = 1;\n');
    const result = await runCycles(scratch);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/planted-a\.ts/);
    expect(result.output).toMatch(/planted-b\.ts/);
  });

  it('given the repo, when the check runs, then it finds no circle', async () => {
    const result = await runCycles(repoRoot);
    expect(result.output).toMatch(/no circular dependency/i);
    expect(result.code).toBe(0);
  });
});
