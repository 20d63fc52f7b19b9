import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { parseShardMap } from './shard-map.ts';

/**
 * `move-log --update-map`: the shard map file gets the moved log's override.
 * The new map is written beside the old one and renamed over it, so a server
 * that reloads it (SIGHUP) reads the old map or the new one, never half of one.
 */

/** The file a map update is written to before it is renamed over the map. */
const updateFileOf = (file: string): string => `${file}.${process.pid}.tmp`;

/**
 * Why the update's file cannot be made beside `file` (a read-only or
 * immutable directory...), or undefined when it can: checked before a move,
 * so that the move is not made only to fail at its last step.
 */
export async function cannotUpdateMap(file: string): Promise<string | undefined> {
  const probe = updateFileOf(file);
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}

/** Adds the override `log` -> `shard` to the map file (the file's other contents kept as they are). */
export async function addOverride(file: string, log: string, shard: string): Promise<void> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const overrides = { ...((raw.overrides as Record<string, string> | undefined) ?? {}), [log]: shard };
  const next = `${JSON.stringify({ ...raw, overrides }, null, 2)}\n`;
  parseShardMap(JSON.parse(next));
  const temporary = updateFileOf(file);
  await writeFile(temporary, next);
  await rename(temporary, file);
}
