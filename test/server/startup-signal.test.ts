import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDirs } from '../fixtures/temp-dirs.ts';
import { BIN } from './child-server.ts';

/**
 * A server starting on a new PGlite data directory creates it (initdb) in a
 * child process for ~5-10 s (src/server/store/pglite.ts). Neither a signal to
 * the server in that time nor its death may leave that child writing the
 * directory: a restart takes the directory's lock over and opens it, and two
 * processes on one PGlite directory can corrupt it.
 */

const run = promisify(execFile);

/** Whether `pid` runs. A zombie (exited, not yet reaped by whichever process adopted it) does not. */
async function running(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Checks `condition` every 25 ms until it holds (true) or `ms` have passed (false). */
async function within(ms: number, condition: () => Promise<boolean>): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < ms; await new Promise((resolve) => setTimeout(resolve, 25))) {
    if (await condition()) return true;
  }
  return false;
}

interface Starting {
  server: ChildProcess;
  /** The pid of the server's initdb child. */
  initdb: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const servers: ChildProcess[] = [];
const initdbs: number[] = [];

/** Starts chronicle-server on the new data directory `data` and waits until its initdb child writes there. */
async function startCreating(data: string): Promise<Starting> {
  const server = spawn(process.execPath, [BIN, '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(server);
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    server.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let initdb: number | undefined;
  // Bounded: the server loads (tsx) and starts its child within a few seconds, and the child makes its
  // directory (pgdata, or a staging directory for it) a few hundred ms later.
  const started = await within(30_000, async () => {
    if (server.exitCode !== null) throw new Error(`chronicle-server exited before it started initdb:\n${output}`);
    const children = await run('pgrep', ['-P', String(server.pid)]).then(
      ({ stdout }) => stdout.trim().split('\n').map(Number),
      () => [],
    );
    if (initdb === undefined && children[0] !== undefined) initdbs.push((initdb = children[0]));
    return initdb !== undefined && (await readdir(data).catch(() => [])).some((name) => name.startsWith('pgdata'));
  });
  expect(started, `initdb child started and writing (${output})`).toBe(true);
  return { server, initdb: initdb!, exited, output: () => output };
}

describe.skipIf(process.platform === 'win32')('chronicle-server while it creates a new PGlite data directory', () => {
  const fresh = tempDirs('startup-signal-');
  afterEach(() => {
    for (const server of servers.splice(0)) server.kill('SIGKILL');
    for (const pid of initdbs.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });

  it('SIGTERM stops the initdb child, releases the lock, leaves nothing half-made and exits 143', async () => {
    const data = join(await fresh(), 'data');
    const starting = await startCreating(data);
    starting.server.kill('SIGTERM');
    const exit = await starting.exited;
    // The child is gone by the time the server has exited (it was killed and waited for), not some time after.
    expect(await running(starting.initdb), `initdb child ${starting.initdb} still running after its server exited`).toBe(false);
    expect(exit).toEqual({ code: 143, signal: null });
    expect(starting.output()).toMatch(/SIGTERM before the server listens/);
    // No lock for a restart to take over, and neither a pgdata nor a half-made one: a restart starts afresh.
    expect(await readdir(data)).toEqual([]);
  });

  it('the initdb child exits when its server is killed (kill -9), before it finishes the directory', async () => {
    const data = join(await fresh(), 'data');
    const starting = await startCreating(data);
    starting.server.kill('SIGKILL');
    await starting.exited;
    // Bounded by the child's initdb, which ran for seconds more when nothing ended it: a child that outlived
    // its server finished pgdata (PG_VERSION is among its last files) while a restart could be opening it.
    expect(await within(20_000, async () => !(await running(starting.initdb)))).toBe(true);
    const made = await readdir(data);
    expect(made.filter((name) => existsSync(join(data, name, 'PG_VERSION')))).toEqual([]);
  });
});
