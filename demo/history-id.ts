import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The id of the server history kept in a demo data directory, which names
 * the app's local store (demo/src/store.ts): a new directory (`--temp`, or a
 * deleted ./chronicle-data) holds a new history, so the app opens a new local
 * store for it instead of meeting it with the old one's.
 */

const FILE = 'demo-history-id';

/** Whether the directory holds anything yet (a log written by an earlier run): read before the store opens it. */
export async function holdsData(dataDir: string): Promise<boolean> {
  return (await readdir(dataDir).catch(() => [])).length > 0;
}

/**
 * The directory's history id: made on its first run and kept beside the log.
 * A directory that held a log before ids existed (a demo before 2026-12-06)
 * gets the empty id, kept as an empty file, so the app keeps the local store
 * it already had (`chronicle-demo`), with the orders not synced yet.
 */
export async function historyIdOf(dataDir: string, heldDataBefore: boolean): Promise<string> {
  const file = join(dataDir, FILE);
  const known = await readFile(file, 'utf8').catch(() => undefined);
  if (known !== undefined && /^[\w-]{0,64}$/.test(known.trim())) return known.trim();
  const made = heldDataBefore && known === undefined ? '' : crypto.randomUUID().slice(0, 8);
  await writeFile(file, made);
  return made;
}
