import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PushRequest } from '../../src/core/protocol.ts';
import { createPgliteStore } from '../../src/server/index.ts';
import { runCli, startChildServer } from './child-server.ts';
import { createTestDatabase, describePg, freshLog, httpPush, okPush, pullAll, TestClient, type TestDatabase } from './helpers.ts';

const BIN = resolve(import.meta.dirname, '../../bin/chronicle-server.mjs');

interface Child {
  url: string;
  process: ChildProcess;
  output: () => string;
}

const children = new Set<ChildProcess>();

/** Starts `chronicle-server` as a real child process (through the package's bin) and waits until it listens. */
function startServer(args: string[]): Promise<Child> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, '--port', '0', '--rate', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const onData = (data: Buffer): void => {
      output += data.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (m) resolvePromise({ url: m[1]!, process: child, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      children.delete(child);
      reject(new Error(`chronicle-server exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

function killHard(child: Child): Promise<void> {
  return new Promise((done) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return done();
    child.process.once('exit', () => done());
    child.process.kill('SIGKILL');
  });
}

function stopGracefully(child: Child): Promise<number | null> {
  return new Promise((done) => {
    child.process.once('exit', (code) => done(code));
    child.process.kill('SIGTERM');
  });
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Several clients stream pushes; the server process is SIGKILLed while they do;
 * a new process on the same storage comes up; each client retries the range it
 * had in flight. Nothing is lost, nothing duplicated, every retry is acknowledged.
 */
async function crashAndRestart(storageArgs: string[], whileRestarted?: () => Promise<void>): Promise<{ log: string; count: number }> {
  const log = freshLog('crash');
  let server = await startServer(storageArgs);
  const clients = Array.from({ length: 3 }, (_, i) => new TestClient(`crash-client-${i}`));
  let acked = 0;
  const unacked = new Map<string, PushRequest>();

  const streams = clients.map(async (client, i) => {
    for (;;) {
      const push = client.next([`own-${i}`, `own-${i}-b`]);
      try {
        const reply = await httpPush(server.url, log, push);
        okPush(reply);
        acked++;
      } catch {
        unacked.set(client.clientId, push); // the server died with this push in flight
        return;
      }
    }
  });

  while (acked < 30) await new Promise((r) => setTimeout(r, 5));
  await killHard(server);
  await Promise.all(streams);
  expect(unacked.size).toBe(clients.length);

  // The restart also takes over the storage the killed process held (PGlite: its lock file).
  server = await startServer(storageArgs);
  await whileRestarted?.();
  for (const client of clients) {
    const range = unacked.get(client.clientId)!;
    const retry = okPush(await httpPush(server.url, log, range));
    // Committed before the kill (acknowledged as duplicates) or not at all (stored now): never half.
    expect([0, range.events.length]).toContain(retry.duplicates);
    expect(retry.clientSeq).toBe(range.to);
    okPush(await httpPush(server.url, log, client.next([`after-${client.clientId}`, `after-${client.clientId}-b`])));
  }

  const events = await pullAll(server.url, log);
  expect(events.map((e) => e.position)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  for (const client of clients) {
    const mine = events.filter((e) => e.meta.clientId === client.clientId).map((e) => e.meta.clientSeq);
    expect(mine).toEqual(Array.from({ length: client.nextClientSeq - 1 }, (_, i) => i + 1));
  }
  expect(await stopGracefully(server)).toBe(0);
  return { log, count: events.length };
}

describe('server process killed in the middle of a stream of pushes, then restarted', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('on a PGlite data directory: nothing lost, nothing duplicated, retried ranges acknowledged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chronicle-crash-'));
    dirs.push(dir);
    const data = join(dir, 'data');
    const stored = await crashAndRestart(['--data', data], async () => {
      // One process per data directory: a second one is turned away while the server runs.
      await expect(createPgliteStore({ dataDir: data })).rejects.toThrow(/in use by process/);
    });
    // The graceful stop released the directory, and everything is still there.
    const store = await createPgliteStore({ dataDir: data });
    try {
      expect(await store.head(stored.log)).toBe(stored.count);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describePg('server process killed in the middle of a stream of pushes, then restarted (PostgreSQL)', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
  });

  it('on PostgreSQL: nothing lost, nothing duplicated, retried ranges acknowledged', async () => {
    db = await createTestDatabase();
    await crashAndRestart(['--database-url', db.url]);
  }, 120_000);
});

describe('chronicle-server CLI', () => {
  it('--help prints usage and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/--database-url/);
    expect(out).toMatch(/--tokens/);
  });

  it('a mistaken value is a one-line usage error (exit 2), never a server started on a guess', async () => {
    const cases: [string[], string, Record<string, string>?][] = [
      [['--port', ''], '--port must be a non-negative integer, got ""'],
      [['--port', '0x10'], '--port must be a non-negative integer, got "0x10"'],
      [['--port', '1', '--port', '2'], '--port is given more than once'],
      [['--memory', '--store-timeout', '3000000000'], '--store-timeout must be at most 2147483647'],
      [['--memory', '--max-events', ''], '--max-events must be a positive integer, got ""'],
      [['--memory', '--tokens', ''], '--tokens needs a value; an empty one would start without authentication'],
      // Empty places: --host "" listened on every interface, --data "" used the working directory.
      [['--memory', '--host', ''], '--host needs a value; an empty one would listen on every network interface'],
      [['--data', ''], '--data needs a value'],
      [['--shard-map', '', '--memory'], '--shard-map needs a value'],
      [['migrate', '--data', ''], '--data needs a value'],
      // Flags of a store not in use, and a PGlite setting PGlite cannot start with.
      [['--memory', '--pool-size', '5'], '--pool-size applies to PostgreSQL only'],
      [
        ['--database-url', 'postgres://x@127.0.0.1:1/a', '--shared-buffers-mb', '64'],
        '--shared-buffers-mb applies to embedded PGlite only',
      ],
      [['--memory', '--shared-buffers-mb', '2048'], '--shared-buffers-mb must be at most 1024'],
      [['migrate', '--data', '/tmp/x', '--pg-statement-timeout', '5'], 'migrate: --pg-statement-timeout applies to PostgreSQL only'],
      [
        ['shard-of', '--database-url', 'a=postgres://x@127.0.0.1:1/a', '--pg-lock-timeout', '5', 'l'],
        'shard-of does not take --pg-lock-timeout',
      ],
      // A bad limit is refused before any database is reached (here: one that does not answer).
      [['--database-url', 'postgres://x@127.0.0.1:1/a', '--max-header-bytes', '0'], '--max-header-bytes must be a positive integer'],
      // A limit no request can meet: every request, /health too, was answered 431.
      [['--memory', '--max-header-bytes', '10'], '--max-header-bytes must be at least 1024'],
      // An event the event limit takes would not fit in any push: its client would reject it for good.
      [['--memory', '--max-request-bytes', '100000'], '--max-request-bytes (100000) is below --max-event-bytes (262144)'],
      [['--memory'], '$PORT (read since --port is not given): must be a non-negative integer, got "abc"', { PORT: 'abc' }],
      // Values are shown on one line: a newline in one cannot forge a log line.
      [['--memory', '--log-format', 'x\n{"level":"info"}'], '--log-format must be json or text, got "x\\u000a{"level":"info"}"'],
      [['--database-url', 'postgres://app@127.0.0.1:99999/app'], '--database-url (or $DATABASE_URL) is not a valid URL'],
      [['shard-of', '--database-url', 'a=postgres://x@127.0.0.1:1/a', 'bad name!'], 'shard-of: "bad name!" is not a log name'],
      // A flag the command would ignore: the command line says something the command would not do.
      [
        ['purge-moved', '--log', 'l', '--from', 'a', '--to', 'b', '--database-url', 'a=postgres://x@127.0.0.1:1/a'],
        'purge-moved does not take --to',
      ],
      [
        ['move-log', '--log', 'l', '--to', 'a', '--from', 'b', '--database-url', 'a=postgres://x@127.0.0.1:1/a'],
        'move-log does not take --from',
      ],
      [['--data', '/tmp/x'], '($DATABASE_URL is set)', { DATABASE_URL: 'postgres://x@127.0.0.1:1/a' }],
    ];
    for (const [args, message, env] of cases) {
      const { code, output } = await runCli(args, env ? { env } : {});
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(output).toContain(message);
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
    }
  }, 60_000);

  it('a tokens file that cannot work as written is a usage error (exit 2), not a server that refuses its users', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chronicle-tokens-'));
    try {
      const cases: [unknown, string][] = [
        // An empty token would match a request without credentials.
        [{ '': { read: '*', write: '*' } }, 'an empty token ("") is not allowed'],
        // A misspelt grant started a server that answered that token's pushes 403.
        [{ t: { read: '*', wirte: '*' } }, 'tokens["t…"] has an unknown key "wirte": id, read and write are'],
        // A header cannot carry these as written: 401 for every request that uses them.
        [{ tök: { read: '*' } }, 'a token must be printable ASCII, without spaces at its ends'],
        [{ ' pad ': { read: '*' } }, 'a token must be printable ASCII, without spaces at its ends'],
        [{}, 'no token is given'],
      ];
      for (const [tokens, message] of cases) {
        const file = join(dir, 'tokens.json');
        await writeFile(file, JSON.stringify(tokens));
        const { code, output } = await runCli(['--memory', '--tokens', file]);
        expect({ tokens, code }).toEqual({ tokens, code: 2 });
        expect(output).toContain(message);
      }
      // A FIFO would be read forever, the server never starting and saying nothing.
      const fifo = join(dir, 'tokens.fifo');
      if (spawnSync('mkfifo', [fifo]).status === 0) {
        const { code, output } = await runCli(['--memory', '--tokens', fifo]);
        expect(code).toBe(2);
        expect(output).toContain('it is not a regular file');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a bad flag beside --data is refused before the data directory is made, a file at its path is named as --data, a shard URL is shown without its password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chronicle-data-flag-'));
    try {
      const data = join(dir, 'data');
      const bad = await runCli(['--data', data, '--max-events', 'abc']);
      expect(bad.code).toBe(2);
      expect(bad.output).toContain('--max-events must be a positive integer, got "abc"');
      expect(await readdir(dir)).toEqual([]);
      // A file where the data directory should be: named as --data, exit 2 (it was exit 1 with mkdir's EEXIST).
      const file = join(dir, 'a-file');
      await writeFile(file, 'not a directory');
      const notDir = await runCli(['--data', file]);
      expect(notDir.code).toBe(2);
      expect(notDir.output).toContain(`--data ${file}: cannot keep the database there: it is a file, not a directory (EEXIST)`);
      const secret = await runCli(['--database-url', 'a=postgres://u:s3cret@127.0.0.1:99999/db', '--database-url', 'b=postgres://u@h/b']);
      expect(secret.code).toBe(2);
      expect(secret.output).toContain('shard "a": "postgres://u:***@127.0.0.1:99999/db" is not a URL');
      expect(secret.output).not.toContain('s3cret');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('move-log --update-map with a map file it cannot rewrite is refused before anything is moved (exit 2)', async (context) => {
    const dir = await mkdtemp(join(tmpdir(), 'chronicle-map-'));
    const file = join(dir, 'shards.json');
    await writeFile(file, JSON.stringify({ shards: { a: 'postgres://x@127.0.0.1:1/a', b: 'postgres://x@127.0.0.1:1/b' } }));
    // An immutable directory refuses new files even to root (as a read-only mount does); skipped where chattr is not allowed.
    const immutable = spawnSync('chattr', ['+i', dir]);
    try {
      if (immutable.status !== 0) context.skip(`chattr +i is not allowed here: ${String(immutable.stderr).trim()}`);
      const { code, output } = await runCli(['move-log', '--log', 'l', '--to', 'b', '--shard-map', file, '--update-map']);
      expect(code).toBe(2);
      expect(output).toContain(`--update-map: cannot write ${file} (EPERM); nothing was moved`);
      expect(await readdir(dir)).toEqual(['shards.json']);
    } finally {
      spawnSync('chattr', ['-i', dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SIGHUP (sent to every server after a log move) does not end a server without a map file', async () => {
    const server = await startChildServer(['--memory']);
    server.process.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.alive()).toBe(true);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(server.output()).toContain('SIGHUP: nothing to reload');
    expect(await server.stop()).toBe(0);
  });

  it('an unknown option is refused with exit code 2', async () => {
    const child = spawn(process.execPath, [BIN, '--bogus'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise<number | null>((r) => child.once('exit', r))).toBe(2);
    expect(err).toMatch(/bogus/);
  });
});
