import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../fixtures/temp-dirs.ts';
import { historyIdOf, holdsData } from '../../demo/history-id.ts';
import { storeName } from '../../demo/src/store.ts';

/** The demo's server history id, which names the app's local store (demo/history-id.ts). */
describe('demo history id', () => {
  const fresh = tempDirs('demo-history-');

  it('makes an id for a new directory and keeps it', async () => {
    const dir = await fresh();
    expect(await holdsData(dir)).toBe(false);
    const id = await historyIdOf(dir, false);
    expect(id).toMatch(/^[\w-]{8}$/);
    expect(await historyIdOf(dir, true)).toBe(id);
    expect(storeName({ syncUrl: '', log: 'demo', token: '', history: id }, null)).toBe(`chronicle-demo-${id}`);
  });

  it('keeps the old store name for a directory an older demo wrote its log to (its unsynced orders stay in reach)', async () => {
    const dir = await fresh();
    await mkdir(join(dir, 'base'));
    await writeFile(join(dir, 'PG_VERSION'), '17');
    expect(await holdsData(dir)).toBe(true);
    expect(await historyIdOf(dir, true)).toBe('');
    expect(await readFile(join(dir, 'demo-history-id'), 'utf8')).toBe('');
    expect(await historyIdOf(dir, true)).toBe('');
    expect(storeName({ syncUrl: '', log: 'demo', token: '', history: '' }, null)).toBe('chronicle-demo');
  });

  it('reads a missing directory as empty, and replaces an id file it cannot use', async () => {
    expect(await holdsData(join(tmpdir(), `no-such-dir-${Date.now()}`))).toBe(false);
    const dir = await fresh();
    await writeFile(join(dir, 'demo-history-id'), '../../etc/passwd');
    expect(await historyIdOf(dir, true)).toMatch(/^[\w-]{8}$/);
  });
});
