import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createShardedPostgresStore, createShardedStore, shardForLog } from '../../src/server/index.ts';
import { parseShardMap, shardMapFromUrls } from '../../src/server/shard-map.ts';
import { BIN, killChildren, startChildServer, type ChildServer } from './child-server.ts';
import { describeLogStoreConformance } from './conformance.ts';
import { createTestDatabase, describePg, freshLog, httpPush, okPush, openLive, pullAll, TestClient, type TestDatabase } from './helpers.ts';
import { storedEventCount } from './stored-events.ts';
import { spawn } from 'node:child_process';

/**
 * Logs spread over several databases (docs/scale-out.md): the mapping from a
 * log's name to its shard, the LogStore contract on sharded stores, and two
 * real server processes over two PostgreSQL databases: pushes to many logs,
 * each gapless and in its own database only, and live updates across nodes
 * for every shard. Moving a log: log-move.test.ts and log-move-postgres.test.ts.
 */

describe('the mapping from log names to shards', () => {
  it('is rendezvous hashing of the shard names: pinned, so that an upgrade never moves a log by accident', () => {
    const pinned = {
      'shop-1': 'b',
      'shop-2': 'b',
      'shop-3': 'a',
      'shop-42': 'a',
      default: 'b',
      'tenant.a': 'a',
      x: 'a',
      orders: 'c',
      Z_9: 'a',
    };
    for (const [log, shard] of Object.entries(pinned)) expect(shardForLog(log, ['a', 'b', 'c']), log).toBe(shard);
    // The order the shards are listed in does not matter.
    for (const log of Object.keys(pinned)) expect(shardForLog(log, ['c', 'a', 'b'])).toBe(shardForLog(log, ['a', 'b', 'c']));
  });

  it('spreads logs evenly', () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 3000; i++) counts[shardForLog(`tenant-${i}`, ['a', 'b', 'c'])]!++;
    for (const n of Object.values(counts)) {
      expect(n).toBeGreaterThan(850);
      expect(n).toBeLessThan(1150);
    }
  });

  it('adding a shard sends it some logs and moves no other log between the shards it had', () => {
    let moved = 0;
    for (let i = 0; i < 2000; i++) {
      const log = `tenant-${i}`;
      const before = shardForLog(log, ['a', 'b', 'c']);
      const after = shardForLog(log, ['a', 'b', 'c', 'd']);
      if (after !== before) {
        expect(after).toBe('d');
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(400);
    expect(moved).toBeLessThan(600);
  });

  it('overrides win; a shard outside the placement gets only the logs overrides send it; the map can be replaced', async () => {
    const shards = { a: await createPgliteStore(), b: await createPgliteStore(), c: await createPgliteStore() };
    try {
      const store = createShardedStore({ shards, placement: ['a', 'b'], overrides: { 'shop-42': 'c' } });
      expect(store.shardNames).toEqual(['a', 'b', 'c']);
      expect(store.shardOf('shop-42')).toBe('c');
      for (let i = 0; i < 200; i++) expect(store.shardOf(`t-${i}`)).toBe(shardForLog(`t-${i}`, ['a', 'b']));
      // A push lands in the shard the map says, and only there.
      await store.push('shop-42', new TestClient('k').next(['o1']));
      expect(await shards.c.head('shop-42')).toBe(1);
      expect(await shards.a.head('shop-42')).toBe(0);
      store.setMap({ overrides: {}, placement: ['a', 'b', 'c'] });
      expect(store.shardOf('orders')).toBe('c');
      expect(() => store.setMap({ overrides: { x: 'z' } })).toThrow(/shard "z"/);
      expect(() => store.setMap({ placement: ['a', 'q'] })).toThrow(/shard "q"/);
      expect(store.shardOf('orders')).toBe('c');
      expect(() => createShardedStore({ shards, overrides: { x: 'nope' } })).toThrow(/shard "nope"/);
      expect(() => createShardedStore({ shards: { 'bad name': shards.a } })).toThrow(/Invalid shard name/);
      expect(() => createShardedStore({ shards: {} })).toThrow(/at least one shard/);
    } finally {
      for (const s of Object.values(shards)) await s.close();
    }
  });

  it('the shard map file and --database-url values are checked: what is wrong is named', () => {
    expect(parseShardMap({ shards: { a: 'postgres://h/a' }, overrides: { l: 'a' }, placement: ['a'] })).toEqual({
      shards: { a: 'postgres://h/a' },
      overrides: { l: 'a' },
      placement: ['a'],
    });
    expect(() => parseShardMap({ shards: {} })).toThrow(/at least one shard/);
    expect(() => parseShardMap({ shards: { a: 'mysql://h/a' } })).toThrow(/postgres:\/\//);
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, overrides: { l: 'b' } })).toThrow(/override for log "l"/);
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, placement: ['b'] })).toThrow(/placement/);
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, extra: 1 })).toThrow(/unknown key "extra"/);
    expect(() => parseShardMap({ shards: { 'a b': 'postgres://h/a' } })).toThrow(/not a valid shard name/);
    expect(shardMapFromUrls(['postgres://u@h:5432/chronicle_a', 'b=postgres://u@h/other'])).toEqual({
      shards: { chronicle_a: 'postgres://u@h:5432/chronicle_a', b: 'postgres://u@h/other' },
      overrides: {},
    });
    expect(() => shardMapFromUrls(['postgres://h/a', 'postgres://other/a'])).toThrow(/given twice/);
    // One database under two names: a move between them would leave a tombstone in the database that holds the log.
    expect(() => parseShardMap({ shards: { a: 'postgres://u@h/db', b: 'postgres://other-user:pw@H:5432/db' } })).toThrow(
      'shards "a" and "b" name the same database: each shard must be a database of its own',
    );
    expect(() => shardMapFromUrls(['a=postgres://h/db', 'b=postgres://h:5432/db'])).toThrow(/name the same database/);
    expect(parseShardMap({ shards: { a: 'postgres://h/db', b: 'postgres://h:5433/db', c: 'postgres://h/db2' } }).shards).toHaveProperty(
      'c',
    );
    // An override must name a log a server could hold.
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, overrides: { 'bad name!': 'a' } })).toThrow(/is not a log name/);
    expect(() => shardMapFromUrls(['postgres://h'])).toThrow(/names no database/);
    // Names that are members of every object ("toString", "constructor") are shard names like others: not
    // shards a map holds unless it lists them, and not given twice the first time.
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, placement: ['a', 'toString'] })).toThrow(/names shard "toString"/);
    expect(() => parseShardMap({ shards: { a: 'postgres://h/a' }, overrides: { shop: 'constructor' } })).toThrow(
      /override for log "shop" names shard "constructor"/,
    );
    expect(shardMapFromUrls(['constructor=postgres://h/a', 'toString=postgres://h/b']).shards).toEqual({
      constructor: 'postgres://h/a',
      toString: 'postgres://h/b',
    });
  });
});

describeLogStoreConformance('sharded: two embedded databases', async () => {
  const a = await createPgliteStore();
  const b = await createPgliteStore();
  return { store: createShardedStore({ shards: { a, b } }) };
});

describeLogStoreConformance(
  'sharded: two PostgreSQL databases',
  async () => {
    const dbs = [await createTestDatabase(), await createTestDatabase()];
    const shards = { a: dbs[0]!.url, b: dbs[1]!.url };
    try {
      const store = await createShardedPostgresStore({ shards, poolSize: 4 });
      const peer = await createShardedPostgresStore({ shards, poolSize: 4 });
      return { store, peer, teardown: async () => void (await Promise.all(dbs.map((db) => db.drop()))) };
    } catch (error) {
      await Promise.all(dbs.map((db) => db.drop()));
      throw error;
    }
  },
  { postgres: true },
);

/** Runs the CLI to its end; its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describePg('two server processes over two PostgreSQL databases', () => {
  const dbs: TestDatabase[] = [];
  const nodes: ChildServer[] = [];
  let dir: string;
  let mapFile: string;

  beforeAll(async () => {
    dbs.push(await createTestDatabase(), await createTestDatabase());
    dir = await mkdtemp(join(tmpdir(), 'chronicle-shards-'));
    mapFile = join(dir, 'shards.json');
    await writeFile(mapFile, JSON.stringify({ shards: { a: dbs[0]!.url, b: dbs[1]!.url } }));
    // One node reads the map file, the other is given the same databases as flags.
    nodes.push(await startChildServer(['--shard-map', mapFile, '--log-format', 'text']));
    nodes.push(
      await startChildServer(['--database-url', `a=${dbs[0]!.url}`, '--database-url', `b=${dbs[1]!.url}`, '--log-format', 'text']),
    );
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    killChildren();
    await Promise.all(dbs.map((db) => db.drop()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Logs on each shard: `n` per shard. */
  const logsOn = (n: number): { a: string[]; b: string[] } => {
    const out = { a: [] as string[], b: [] as string[] };
    while (out.a.length < n || out.b.length < n) {
      const log = freshLog('sharded');
      const list = out[shardForLog(log, ['a', 'b']) as 'a' | 'b'];
      if (list.length < n) list.push(log);
    }
    return out;
  };

  it('says at start which databases it serves', () => {
    for (const node of nodes) expect(node.output()).toMatch(/PostgreSQL shards a \(127\.0\.0\.1:5432\/chronicle_test_\w+\), b \(/);
  });

  it('pushes to many logs through both servers: each log gapless, the same seen from both, its rows in its own database only', async () => {
    const { a, b } = logsOn(12);
    const logs = [...a, ...b];
    // 3 clients per log, 4 pushes of 5 events each, alternating servers, all logs at once.
    await Promise.all(
      logs.map(async (log) => {
        const clients = [0, 1, 2].map((i) => new TestClient(`${log}-c${i}`));
        for (let round = 0; round < 4; round++) {
          await Promise.all(
            clients.map((client, i) =>
              httpPush(nodes[(round + i) % 2]!.url, log, client.next([0, 1, 2, 3, 4].map((k) => `${client.clientId}-o${k % 2}`))).then(
                okPush,
              ),
            ),
          );
        }
      }),
    );
    for (const log of logs) {
      const viaA = await pullAll(nodes[0]!.url, log);
      const viaB = await pullAll(nodes[1]!.url, log);
      expect(viaA).toEqual(viaB);
      expect(viaA.map((e) => e.position)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(new Set(viaA.map((e) => e.id)).size).toBe(60);
    }
    for (const [i, shard] of (['a', 'b'] as const).entries()) {
      const client = new pg.Client({ connectionString: dbs[i]!.url });
      await client.connect();
      try {
        const here: Record<string, number> = {};
        for (const log of logs) {
          const n = await storedEventCount(client, log);
          if (n > 0) here[log] = n;
        }
        expect(here).toEqual(Object.fromEntries((shard === 'a' ? a : b).map((log) => [log, 60])));
      } finally {
        await client.end();
      }
    }
  });

  it('a live subscriber on one server hears pushes made through the other, on every shard', async () => {
    const { a, b } = logsOn(2);
    const logs = [...a, ...b];
    const lives = await Promise.all(logs.map((log) => openLive(nodes[0]!.url, log)));
    try {
      for (const live of lives) expect(await live.next()).toMatchObject({ type: 'hello', head: 0 });
      for (const [i, log] of logs.entries()) {
        const client = new TestClient(`live-${i}`);
        okPush(await httpPush(nodes[1]!.url, log, client.next(['x', 'y'])));
        okPush(await httpPush(nodes[1]!.url, log, client.next(['x'])));
      }
      for (const live of lives) expect(await live.untilHead(3)).toBe(3);
    } finally {
      await Promise.all(lives.map((l) => l.close()));
    }
  });

  it('shard-of prints the shard of each log, by the same mapping', async () => {
    const { a, b } = logsOn(2);
    const { code, output } = await runCli(['shard-of', '--shard-map', mapFile, ...a, ...b]);
    expect(code).toBe(0);
    expect(output.trim().split('\n')).toEqual([...a.map((l) => `${l}\ta`), ...b.map((l) => `${l}\tb`)]);
    // Logs named as Object's members have no override (the map has none): they go where the hash puts them.
    const members = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    const named = await runCli(['shard-of', '--shard-map', mapFile, ...members]);
    expect(named.code).toBe(0);
    expect(named.output.trim().split('\n')).toEqual(members.map((l) => `${l}\t${shardForLog(l, ['a', 'b'])}`));
  });

  it('bad shard configurations stop the server at start with the reason (exit 2)', async () => {
    const badMap = join(dir, 'bad.json');
    await writeFile(badMap, JSON.stringify({ shards: { a: dbs[0]!.url }, overrides: { x: 'b' } }));
    const cases: [string[], RegExp][] = [
      [['--database-url', `a=${dbs[0]!.url}`, '--database-url', `a=${dbs[1]!.url}`], /shard "a" is given twice/],
      [['--shard-map', badMap], /override for log "x" names shard "b"/],
      [['--shard-map', join(dir, 'missing.json')], /cannot use shard map/],
      [['--shard-map', mapFile, '--database-url', dbs[0]!.url], /either --shard-map or --database-url/],
      [['--shard-map', mapFile, '--memory'], /not both/],
    ];
    for (const [args, message] of cases) {
      const { code, output } = await runCli(['--port', '0', ...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(output).toMatch(message);
    }
  });

  it('a shard it cannot reach at start stops the server, naming the shard (exit 1)', async () => {
    const { code, output } = await runCli([
      '--port',
      '0',
      '--database-url',
      `a=${dbs[0]!.url}`,
      '--database-url',
      `b=${dbs[1]!.url}_missing`,
    ]);
    expect(code).toBe(1);
    expect(output).toMatch(/shard "b"/);
  });
});
