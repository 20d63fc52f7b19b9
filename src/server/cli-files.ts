import { readFile, stat } from 'node:fs/promises';

/**
 * A configuration file a flag names (--tokens, --shard-map), read whole. Only a regular file: reading a FIFO
 * or a terminal would wait for a writer forever, with nothing said, and a server that never starts.
 */
export async function readConfigFile(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(info.isDirectory() ? 'it is a directory' : 'it is not a regular file');
  return readFile(path, 'utf8');
}
