import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PushRequest } from '../../src/core/protocol.ts';
import { shardForLog } from '../../src/server/index.ts';
import { killChildren, runCli, startChildServer, type ChildServer } from './child-server.ts';
import {
  createTestDatabase,
  describePg,
  errorOf,
  freshLog,
  httpPull,
  httpPush,
  okPull,
  okPush,
  openLive,
  pullAll,
  TestClient,
  type TestDatabase,
} from './helpers.ts';
import { storedEventCount, type StoredEventsDb } from './stored-events.ts';

/**
 * The move procedure of docs/scale-out.md run for real: two PostgreSQL
 * databases, two `chronicle-server` processes on the same shard map, clients
 * pushing to the log through both the whole time (retrying a 503 as the
 * protocol says), a puller checking that positions stay gapless and in order,
 * a live subscriber; `chronicle-server move-log --update-map` moves the log,
 * one server re-reads the map (SIGHUP), the other keeps the old one and
 * follows the tombstone; then `purge-moved`. Nothing lost, nothing doubled.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function query<R extends object>(db: TestDatabase, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R & pg.QueryResultRow>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** One database's statements for stored-events.ts, each on a connection of its own (see query). */
const on = (db: TestDatabase): StoredEventsDb => ({ query: (text, params) => query(db, text, params) });

describePg('moving a log between two PostgreSQL databases under load, with the CLI', () => {
  const dbs: TestDatabase[] = [];
  const nodes: ChildServer[] = [];
  let dir: string;
  let mapFile: string;

  beforeAll(async () => {
    dbs.push(await createTestDatabase(), await createTestDatabase());
    dir = await mkdtemp(join(tmpdir(), 'chronicle-move-'));
    mapFile = join(dir, 'shards.json');
    await writeFile(mapFile, JSON.stringify({ shards: { a: dbs[0]!.url, b: dbs[1]!.url } }, null, 2));
    for (let i = 0; i < 2; i++) nodes.push(await startChildServer(['--shard-map', mapFile, '--log-format', 'text']));
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    killChildren();
    await Promise.all(dbs.map((db) => db.drop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes through both servers during the move get 503 log-moving and are retried; every acknowledged event is stored once, gapless, in the new database', async () => {
    let log = freshLog('moving');
    while (shardForLog(log, ['a', 'b']) !== 'a') log = freshLog('moving');

    // The log has history: 3,000 events, so the copy takes 30 statements of 100.
    const seeders = [0, 1, 2].map((i) => new TestClient(`seed-${i}`));
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        seeders.map((c) =>
          httpPush(nodes[round % 2]!.url, log, c.next(Array.from({ length: 50 }, (_, k) => `${c.clientId}-o${k % 5}`))).then(okPush),
        ),
      );
    }

    const live = await openLive(nodes[1]!.url, log);
    expect(await live.next()).toMatchObject({ type: 'hello', head: 3000 });

    // Four clients push 5 events at a time, alternating servers; a 503 is retried unchanged (the protocol's rule).
    const acknowledged = new Set<string>();
    const refusals: Record<string, number> = {};
    let moved = false;
    let afterMove = 0;
    const pusher = async (i: number) => {
      const client = new TestClient(`pusher-${i}`);
      for (let n = 0; !moved || afterMove < 40; n++) {
        const push: PushRequest = client.next([0, 1, 2, 3, 4].map((k) => `${client.clientId}-o${k % 3}`));
        for (let attempt = 0; ; attempt++) {
          const reply = await httpPush(nodes[(n + i) % 2]!.url, log, push);
          if (reply.status === 200) break;
          const error = errorOf(reply);
          expect(error.code).toBe('UNAVAILABLE');
          const reason = String(error.details.reason);
          refusals[reason] = (refusals[reason] ?? 0) + 1;
          expect(reply.headers.get('retry-after')).toBe('1');
          expect(attempt).toBeLessThan(500);
          await sleep(10);
        }
        for (const e of push.events) acknowledged.add(e.id);
        if (moved) afterMove++;
      }
    };
    // A puller through the server that keeps the old map: positions always continue where it left off.
    let pulled = 0;
    let pulling = true;
    const puller = (async () => {
      while (pulling) {
        const reply = await httpPull(nodes[1]!.url, log, { after: pulled, limit: 500 });
        if (reply.status === 503) {
          await sleep(5);
          continue;
        }
        const page = okPull(reply);
        page.events.forEach((e, k) => expect(e.position).toBe(pulled + k + 1));
        pulled += page.events.length;
        if (!page.hasMore) await sleep(5);
      }
    })();

    const pushers = [0, 1, 2, 3].map(pusher);
    // Some pushes are in before the freeze (a fixed sleep was not always enough on a loaded runner).
    await expect.poll(() => acknowledged.size).toBeGreaterThan(0);
    const { code, output } = await runCli([
      'move-log',
      '--log',
      log,
      '--to',
      'b',
      '--shard-map',
      mapFile,
      '--update-map',
      '--batch-events',
      '100',
      // The PostgreSQL timeouts the server takes (a big copy on a slow disk may need a longer statement timeout).
      '--pg-statement-timeout',
      '60000',
    ]);
    expect(code, output).toBe(0);
    expect(output).toMatch(new RegExp(`moved log ${log} from a to b: \\d+ events, \\d+ clients, 1 checksums equal`));
    expect(output).toContain(`override ${log} -> b added`);
    expect(JSON.parse(await readFile(mapFile, 'utf8'))).toMatchObject({ overrides: { [log]: 'b' } });
    // The first server re-reads the map; the second keeps routing the log to a and follows its tombstone.
    nodes[0]!.process.kill('SIGHUP');
    moved = true;
    await Promise.all(pushers);
    pulling = false;
    await puller;
    await expect.poll(() => nodes[0]!.output()).toMatch(/shard map reloaded/); // the log line comes through a pipe

    // Pushes during the move were refused as retryable, and went through after it.
    expect(refusals['log-moving'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(refusals).every((r) => r === 'log-moving')).toBe(true);

    // Everything acknowledged is there exactly once, gapless, the same through both servers.
    const total = 3000 + acknowledged.size;
    const viaNew = await pullAll(nodes[0]!.url, log);
    const viaOld = await pullAll(nodes[1]!.url, log);
    expect(viaOld).toEqual(viaNew);
    expect(viaNew.map((e) => e.position)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const ids = new Set(viaNew.map((e) => e.id));
    expect(ids.size).toBe(total);
    for (const id of acknowledged) expect(ids.has(id)).toBe(true);
    expect(await live.untilHead(total)).toBe(total);
    await live.close();

    // The new database holds the log; the old one a tombstone over the events it had at the freeze.
    const [source] = await query<{ head: string; move_state: string; move_peer: string }>(
      dbs[0]!,
      'SELECT head, move_state, move_peer FROM chronicle_logs WHERE log = $1',
      [log],
    );
    expect(source).toMatchObject({ move_state: 'moved', move_peer: 'b' });
    const frozenAt = Number(source!.head);
    expect(frozenAt).toBeGreaterThan(3000);
    expect(frozenAt).toBeLessThan(total);
    expect(await storedEventCount(on(dbs[0]!), log)).toBe(frozenAt);
    expect(await storedEventCount(on(dbs[1]!), log)).toBe(total);
    expect(await query(dbs[1]!, 'SELECT head, move_state FROM chronicle_logs WHERE log = $1', [log])).toEqual([
      { head: String(total), move_state: null },
    ]);

    // Once every server routes it to b, the old rows go; the tombstone stays and still sends the second server on.
    const purge = await runCli(['purge-moved', '--log', log, '--from', 'a', '--shard-map', mapFile, '--pg-lock-timeout', '10000']);
    expect(purge.code, purge.output).toBe(0);
    expect(purge.output).toContain(`purged log ${log} from a: ${frozenAt} events`);
    expect(await storedEventCount(on(dbs[0]!), log)).toBe(0);
    for (const table of ['chronicle_event_ids', 'chronicle_heads', 'chronicle_ranges', 'chronicle_clients']) {
      expect(await query(dbs[0]!, `SELECT 1 FROM ${table} WHERE log = $1 LIMIT 1`, [log]), table).toEqual([]);
    }
    const late = new TestClient('late');
    expect(okPush(await httpPush(nodes[1]!.url, log, late.next(['z']))).positions[0]!.position).toBe(total + 1);
    expect((await pullAll(nodes[1]!.url, log, total)).map((e) => e.position)).toEqual([total + 1]);
  }, 120_000);

  it('the CLI refuses a move it cannot make, and changes nothing: exit 1 with the reason', async () => {
    let log = freshLog('stay');
    while (shardForLog(log, ['a', 'b']) !== 'a') log = freshLog('stay');
    okPush(await httpPush(nodes[0]!.url, log, new TestClient('s').next(['a', 'b'])));
    // A move to where the log is has nothing to do (exit 0): see the next test for why.
    const same = await runCli(['move-log', '--log', log, '--to', 'a', '--shard-map', mapFile]);
    expect(same.code, same.output).toBe(0);
    expect(same.output).toMatch(/log \S+ is already on a: nothing to move/);
    const unknown = await runCli(['move-log', '--log', log, '--to', 'c', '--shard-map', mapFile]);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/--to must name one of the shards: a, b/);
    const badLog = await runCli(['move-log', '--log', '../x', '--to', 'b', '--shard-map', mapFile]);
    expect(badLog.code).toBe(2);
    const notMoved = await runCli(['purge-moved', '--log', log, '--from', 'a', '--shard-map', mapFile]);
    expect(notMoved.code).toBe(1);
    expect(notMoved.output).toMatch(/has not moved away from "a"/);
    expect(await query(dbs[0]!, 'SELECT head, move_state FROM chronicle_logs WHERE log = $1', [log])).toEqual([
      { head: '2', move_state: null },
    ]);
    expect(await query(dbs[1]!, 'SELECT log FROM chronicle_logs WHERE log = $1', [log])).toEqual([]);
  });

  it('a move that stopped before its map update is finished by running it again: the override is added', async () => {
    let log = freshLog('rerun');
    while (shardForLog(log, ['a', 'b']) !== 'a') log = freshLog('rerun');
    okPush(await httpPush(nodes[0]!.url, log, new TestClient('r').next(['a', 'b', 'c'])));
    // As if killed right after the switch: moved, map not updated.
    const moved = await runCli(['move-log', '--log', log, '--to', 'b', '--shard-map', mapFile]);
    expect(moved.code, moved.output).toBe(0);
    expect(JSON.parse(await readFile(mapFile, 'utf8')).overrides?.[log]).toBeUndefined();
    const again = await runCli(['move-log', '--log', log, '--to', 'b', '--shard-map', mapFile, '--update-map']);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`log ${log} is already on b: nothing to move`);
    expect(JSON.parse(await readFile(mapFile, 'utf8'))).toMatchObject({ overrides: { [log]: 'b' } });
  });
});
