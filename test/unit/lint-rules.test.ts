/**
 * The layer rules of eslint.config.mjs catch what they are for: each case
 * plants one import (or global) in a file of a layer and expects the lint to
 * refuse it, next to the allowed import it must not refuse.
 */
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

/** The ids of the rules that fire on `code` placed at `file`. */
async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const keep = 1;\n`, { filePath: `${repoRoot}${file}` });
  return result!.messages.map((message) => message.ruleId ?? message.message);
}

describe('layer rules', () => {
  it.each([
    ['core imports the DOM-bound client', 'src/core/planted.ts', "import { openStore } from '../client/index.ts'; void openStore;"],
    ['core imports node:*', 'src/core/planted.ts', "import { readFile } from 'node:fs/promises'; void readFile;"],
    ['core imports idb', 'src/core/planted.ts', "import { openDB } from 'idb'; void openDB;"],
    ['the server imports the engine', 'src/server/planted.ts', "import { createEngine } from '../../worker/engine.ts'; void createEngine;"],
    [
      'the server imports the client',
      'src/server/http/planted.ts',
      "import type { Store } from '../../client/store.ts'; export type S = Store;",
    ],
    [
      'the client reaches into the engine past the contract',
      'src/client/planted.ts',
      "import type { MetaRecord } from '../../worker/db.ts'; export type M = MetaRecord;",
    ],
    ['the engine imports the client', 'worker/planted.ts', "import { openStore } from '../src/client/index.ts'; void openStore;"],
    [
      'devtools imports a client internal',
      'src/devtools/ui/planted.ts',
      "import { openStore } from '../../client/store.ts'; void openStore;",
    ],
    [
      'react imports a core internal',
      'src/react/planted.ts',
      "import type { StoredEvent } from '../core/event.ts'; export type E = StoredEvent;",
    ],
  ])('refuses: %s', async (_case, file, code) => {
    expect(await violations(file, code)).toContain('no-restricted-imports');
  });

  it('refuses a platform global in core', async () => {
    expect(await violations('src/core/planted.ts', 'export const db = indexedDB;')).toContain('no-restricted-globals');
  });

  it.each([
    [
      'core imports zod and core',
      'src/core/planted.ts',
      "import { z } from 'zod'; import { MAX_ID_LENGTH } from './text-rules.ts'; void z; void MAX_ID_LENGTH;",
    ],
    ['the server imports core', 'src/server/http/planted.ts', "import { idSchema } from '../../core/schemas.ts'; void idSchema;"],
    [
      'the client imports the contract',
      'src/client/planted.ts',
      "import type { EngineApi } from '../../worker/contract.ts'; export type A = EngineApi;",
    ],
    [
      'devtools imports the public entries',
      'src/devtools/ui/planted.ts',
      "import { openStore } from '../../client/index.ts'; import { uuidv7 } from '../../core/index.ts'; void openStore; void uuidv7;",
    ],
    ['devtools imports within devtools', 'src/devtools/ui/planted.ts', "import { diff } from '../diff.ts'; void diff;"],
  ])('allows: %s', async (_case, file, code) => {
    expect(await violations(file, code)).not.toContain('no-restricted-imports');
  });
});
