import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(dir, { recursive: true })`
 * never returns for a path under a directory that exists but where nothing can
 * be made, such as `/proc/x`: the kernel says ENOENT for the child, the parent
 * exists, and Node tries the child again, forever (Node 20). Here each level
 * is tried at most twice, so such a path fails with its ENOENT.
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return mustBeDirectory(dir, error);
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirectory(parent);
  }
  try {
    await mkdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await mustBeDirectory(dir, error);
  }
}

/** An existing path is fine when it is a directory; otherwise `mkdir`'s EEXIST stands. */
async function mustBeDirectory(dir: string, error: unknown): Promise<void> {
  if (!(await stat(dir)).isDirectory()) throw error;
}
