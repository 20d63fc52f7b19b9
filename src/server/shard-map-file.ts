import { readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { takePidLock } from './pid-lock.ts';
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
  const probe = updateFileOf(await realpath(file).catch(() => file));
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}

/** How long an update waits for another process's update of the same map (move-log runs side by side). */
const LOCK_WAIT_MS = 10_000;

/**
 * Adds the override `log` -> `shard` to the map file (the file's other
 * contents kept as they are). A symlinked map is updated where it lives, and
 * updates of one map by several processes take turns (a lock file beside
 * it), so that none loses another's override.
 */
export async function addOverride(file: string, log: string, shard: string): Promise<void> {
  const target = await realpath(file);
  const lockPath = `${target}.lock`;
  const started = Date.now();
  let lock = await takePidLock(lockPath);
  while ('heldBy' in lock) {
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw new Error(`${file} is being updated by process ${lock.heldBy} (${lockPath}); run --update-map again once it is done`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    lock = await takePidLock(lockPath);
  }
  try {
    const raw = JSON.parse(await readFile(target, 'utf8')) as Record<string, unknown>;
    const overrides = { ...((raw.overrides as Record<string, string> | undefined) ?? {}), [log]: shard };
    const next = `${JSON.stringify({ ...raw, overrides }, null, 2)}\n`;
    parseShardMap(JSON.parse(next));
    const temporary = updateFileOf(target);
    await writeFile(temporary, next);
    await rename(temporary, target);
  } finally {
    await lock.release();
  }
}
