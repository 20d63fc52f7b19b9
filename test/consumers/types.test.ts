/**
 * The packed package's declarations in a strict consumer: `tsc` over code that
 * imports every entry point, with skipLibCheck off so Chronicle's own .d.ts
 * files are checked under the consumer's flags too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const app = inject('consumerApp');
const exec = promisify(execFile);

async function tsc(project: string): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { cwd: app, timeout: 120_000 });
    return stdout;
  } catch (error) {
    return (error as { stdout?: string }).stdout ?? String(error);
  }
}

describe('TypeScript consumers', () => {
  it('NodeNext with exactOptionalPropertyTypes, erasableSyntaxOnly, noUnusedLocals and friends: no errors', async () => {
    expect(await tsc('types/tsconfig.json')).toBe('');
  });

  it("create-vite's vanilla-ts settings (bundler resolution), skipLibCheck off: no errors", async () => {
    expect(await tsc('types/tsconfig.bundler.json')).toBe('');
  });
});
