import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type PushRequest } from '../../src/core/protocol.ts';
import { createPgliteStore, createPostgresStore, SCHEMA_VERSION, type LogStore, type MigrationProgress } from '../../src/server/index.ts';
import { MOVE_RANGE_IDS, MOVE_WINDOW } from '../../src/server/store/migrate-pages.ts';
import { buildPages, eventsOfPage, PAGE_CHARS, PAGE_EVENTS, parseEnds } from '../../src/server/store/pages.ts';
import type { SqlDriver } from '../../src/server/store/sql-driver.ts';
import type { SqlLogStore } from '../../src/server/store/sql-log-store.ts';
import type { PushResult } from '../../src/server/store/types.ts';
import { createTestDatabase, describePg, makeEvent, refusal, type PushEvent, type TestDatabase } from './helpers.ts';
import { seededRandom } from '../fixtures/seeded-random.ts';

/**
 * Schema 4 -> 5 (src/server/store/schema.ts, moveEventsIntoPages): a
 * database written by the last schema-4 release, taken from git and run in
 * this process, is opened by the current store, which moves chronicle_events
 * into pages, event ids, aggregate heads and client ranges, and drops it.
 * Then every event is served byte for byte as schema 4 stored it, and every
 * push rule that reads what was moved (duplicates by clientSeq, stored ids,
 * aggregate heads, client marks and epochs) answers as schema 4 would have.
 * Run on PGlite (a data directory) and on PostgreSQL.
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** The last commit of schema 4. */
const V4_RELEASE = '8a0c158';
/** Events per window of the migration (migrate-pages.ts): the big log has more, so it is moved in several. */
const MOVE_CHUNK = MOVE_WINDOW;

/** What this test uses of the schema-4 release's modules. */
interface V4Release {
  SCHEMA_VERSION: number;
  SCHEMA_SQL: string;
  createPgliteStore(options: { dataDir: string }): Promise<LogStore>;
  createPostgresStore(options: { connectionString: string; poolSize?: number }): Promise<LogStore>;
}

/**
 * The schema-4 release, its own source tree taken from git (as
 * rolling-upgrade.test.ts takes an older one), loaded in this process.
 */
async function loadV4(): Promise<{ release: V4Release; dir: string } | { missing: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'chronicle-v4-'));
  try {
    await run('sh', ['-c', `git -C "${ROOT}" archive ${V4_RELEASE} src package.json | tar -x -C "${dir}"`]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { missing: `cannot take ${V4_RELEASE} from git (${(error as Error).message})` };
  }
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const server = (await import(/* @vite-ignore */ join(dir, 'src/server/index.ts'))) as Omit<V4Release, 'SCHEMA_SQL'>;
  const schema = (await import(/* @vite-ignore */ join(dir, 'src/server/store/schema.ts'))) as Pick<V4Release, 'SCHEMA_SQL'>;
  return { release: { ...server, SCHEMA_SQL: schema.SCHEMA_SQL }, dir };
}

const v4 = await loadV4();

afterAll(async () => {
  if ('dir' in v4) await rm(v4.dir, { recursive: true, force: true });
});

/**
 * A describe block that needs the schema-4 release. Without it (a checkout
 * without git history) the suite is skipped with a notice, as the rolling
 * upgrade test does for its previous release: a shallow clone is a legitimate
 * way to build the package, and the rest of the suite still says something.
 */
function describeV4(name: string, body: (release: V4Release) => void): void {
  if ('release' in v4) {
    describe(name, () => body(v4.release));
    return;
  }
  console.warn(`\n[chronicle] SKIPPED "${name}": ${v4.missing}\n`);
  describe.skip(name, () => undefined);
}

// ---------------------------------------------------------------------------
// What schema 4 is given: several logs, clients and aggregates, interleaved.

/** Texts that JSON and SQL treat specially: separators, control characters, quotes, astral characters. */
const NOTES = ['café', '注文 😀', 'a,b', '\u0001,\u0001', 'quote " and back \\', '👩‍👩‍👧 family', 'ǅ ß İ', '\u2028\u2029', ''];

const BIG_LOG = 'shop-注文-main';
const SMALL_LOG = 'shop-small';
const ONE_LOG = 'one';
const FENCED_LOG = 'fenced-only';
const LOGS = [BIG_LOG, SMALL_LOG, ONE_LOG, FENCED_LOG];
/** Clients of the big log; the last one's id needs escaping in JSON. */
const CLIENTS = ['till-1', 'till-2', 'tablet-é😀', 'kiosk "3" \\ x'];
const AGGREGATES = [...Array.from({ length: 40 }, (_, i) => `order-${i + 1}`), 'order-注文-😀'];
/** The big log's events: past MOVE_CHUNK, so that it is moved in two windows. */
const BIG_EVENTS = MOVE_CHUNK + 2000;
/**
 * Where the big log has three events of 400,000 characters (emoji) each:
 * pages are cut by characters there. The second three end the first chunk the
 * migration reads, so the page it carries over to the next chunk is one such.
 */
const BIG_AT = [100, MOVE_CHUNK - 1];

interface Step {
  log: string;
  /** A fence before the push: the client's epoch. */
  fence?: { clientId: string; epoch: number };
  push?: PushRequest;
}

/** Writes of schema 4, in order; each push is accepted whole. */
function history(): Step[] {
  const rnd = seededRandom(20261204);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const heads = new Map<string, number>();
  const clientSeqs = new Map<string, number>();
  const positions = new Map<string, number>();
  const steps: Step[] = [];
  let unique = 0;
  const pushOf = (
    log: string,
    clientId: string,
    items: { aggregateId: string; data: unknown; id?: string }[],
    epoch?: number,
  ): PushRequest => {
    const from = (clientSeqs.get(`${log}\u0000${clientId}`) ?? 0) + 1;
    const events: PushEvent[] = items.map((item, i) => {
      const key = `${log}\u0000${item.aggregateId}`;
      const seq = (heads.get(key) ?? 0) + 1;
      heads.set(key, seq);
      const clientSeq = from + i;
      return {
        id: item.id ?? `${clientId}:${clientSeq}`,
        aggregateId: item.aggregateId,
        aggregateType: 'Order',
        seq,
        type: 'ItemAdded',
        version: 1,
        data: item.data,
        meta: { occurredAt: 1_780_000_000_000 + unique++, clientId, clientSeq },
      };
    });
    clientSeqs.set(`${log}\u0000${clientId}`, from + events.length - 1);
    positions.set(log, (positions.get(log) ?? 0) + events.length);
    const push: PushRequest = { protocolVersion: PROTOCOL_VERSION, clientId, from, to: from + events.length - 1, events };
    if (epoch !== undefined) push.epoch = epoch;
    return push;
  };
  const item = (n: number) => {
    const data = { n, note: pick(NOTES), qty: Math.floor(rnd() * 10), tags: rnd() < 0.2 ? ['x', pick(NOTES)] : [] };
    // Some ids are not the default: other scripts, and one with a control character.
    const id = n % 11 === 0 ? `evt-${n}-ü` : n % 997 === 0 ? `ctl\u0001id-${n}` : undefined;
    return { aggregateId: pick(AGGREGATES), data, ...(id ? { id } : {}) };
  };

  // The big log: four clients take turns at random (some twice in a row), pushes of 1 to ~400 events.
  const bigs = [...BIG_AT];
  let longRun = false;
  while ((positions.get(BIG_LOG) ?? 0) < BIG_EVENTS) {
    const at = positions.get(BIG_LOG) ?? 0;
    if (at === bigs[0]! - 1) {
      bigs.shift();
      steps.push({
        log: BIG_LOG,
        push: pushOf(
          BIG_LOG,
          'till-2',
          [0, 1, 2].map((i) => ({ aggregateId: 'order-big', data: { big: true, text: '😀'.repeat(200_000), i } })),
        ),
      });
      continue;
    }
    if (at >= 2000 && !longRun) {
      // One client alone for 2,500 events (five pushes in a row): a run the migration cuts into ranges of MOVE_RANGE_IDS.
      longRun = true;
      for (let k = 0; k < 5; k++) {
        const from = positions.get(BIG_LOG) ?? 0;
        steps.push({
          log: BIG_LOG,
          push: pushOf(
            BIG_LOG,
            CLIENTS[3]!,
            Array.from({ length: 500 }, (_, i) => item(from + i + 1)),
          ),
        });
      }
      continue;
    }
    const count = Math.min((bigs[0] ?? BIG_EVENTS + 1) - 1 - at, 1 + Math.floor(rnd() * rnd() * 400));
    steps.push({
      log: BIG_LOG,
      push: pushOf(
        BIG_LOG,
        pick(CLIENTS),
        Array.from({ length: count }, (_, i) => item(at + i + 1)),
      ),
    });
  }

  // A small log: a client id and event ids that the big log has too; a client fenced (epoch 2) before it pushes.
  steps.push({ log: SMALL_LOG, fence: { clientId: 'tablet-é😀', epoch: 2 } });
  for (let i = 0; i < 8; i++) {
    steps.push({ log: SMALL_LOG, push: pushOf(SMALL_LOG, 'till-1', [{ aggregateId: 'order-1', data: { i, note: NOTES[i] } }]) });
    steps.push({
      log: SMALL_LOG,
      push: pushOf(
        SMALL_LOG,
        'tablet-é😀',
        [
          { aggregateId: 'order-1', data: { i } },
          { aggregateId: `order-注文-${i % 3}`, data: { note: '😀'.repeat(i) } },
        ],
        2,
      ),
    });
  }
  // A log of one event, and a log with a fence and no event.
  steps.push({ log: ONE_LOG, push: pushOf(ONE_LOG, 'till-1', [{ aggregateId: 'order-1', data: { only: '😀' } }]) });
  steps.push({ log: FENCED_LOG, fence: { clientId: 'till-1', epoch: 5 } });
  return steps;
}

/** A stored event of schema 4 (chronicle_events), its columns as numbers and text. */
interface V4Row {
  log: string;
  position: number;
  id: string;
  aggregateId: string;
  seq: number;
  clientId: string;
  clientSeq: number;
  event: string;
}

interface V4State {
  steps: { log: string; push: PushRequest; result: PushResult }[];
  rows: Map<string, V4Row[]>;
  /** What schema 4's pull served, per log. */
  served: Map<string, string[]>;
  clients: { log: string; client_id: string; client_seq: number; epoch: number }[];
  logs: { log: string; head: number }[];
}

const n = (v: unknown): number => Number(v);

async function pullAll(store: LogStore, log: string, limit = 1000): Promise<{ texts: string[]; head: number }> {
  const texts: string[] = [];
  for (;;) {
    const page = await store.pull(log, { after: texts.length, limit });
    texts.push(...page.eventsJson);
    if (!page.hasMore) return { texts, head: page.head };
  }
}

/** Writes the history through a schema-4 store and reads back what it stored. */
async function fillV4(store: LogStore): Promise<V4State> {
  const steps: V4State['steps'] = [];
  for (const step of history()) {
    if (step.fence) await store.fence(step.log, step.fence.clientId, step.fence.epoch);
    if (step.push) {
      const result = await store.push(step.log, step.push);
      expect(result.appended).toBe(step.push.events.length);
      steps.push({ log: step.log, push: step.push, result });
    }
  }
  const driver = (store as SqlLogStore).driver;
  const rows = new Map<string, V4Row[]>(LOGS.map((log) => [log, []]));
  const stored = await driver.query<Record<string, unknown>>(
    `SELECT log, position, id, aggregate_id, seq, client_id, client_seq, event::text AS event FROM chronicle_events ORDER BY log, position`,
  );
  for (const r of stored) {
    rows.get(String(r.log))!.push({
      log: String(r.log),
      position: n(r.position),
      id: String(r.id),
      aggregateId: String(r.aggregate_id),
      seq: n(r.seq),
      clientId: String(r.client_id),
      clientSeq: n(r.client_seq),
      event: String(r.event),
    });
  }
  const served = new Map<string, string[]>();
  for (const log of LOGS) served.set(log, (await pullAll(store, log)).texts);
  const clients = (
    await driver.query<Record<string, unknown>>('SELECT log, client_id, client_seq, epoch FROM chronicle_clients ORDER BY log, client_id')
  ).map((r) => ({ log: String(r.log), client_id: String(r.client_id), client_seq: n(r.client_seq), epoch: n(r.epoch) }));
  const logs = (await driver.query<Record<string, unknown>>('SELECT log, head FROM chronicle_logs ORDER BY log')).map((r) => ({
    log: String(r.log),
    head: n(r.head),
  }));
  const schema = await driver.query<{ version: unknown }>('SELECT version FROM chronicle_schema');
  expect(schema.map((r) => n(r.version))).toEqual([4]);
  return { steps, rows, served, clients, logs };
}

/** Everything schema 5 keeps, as text, to tell whether a second migration changed anything. */
async function snapshot(driver: SqlDriver): Promise<string> {
  const tables = {
    schema: 'SELECT version FROM chronicle_schema',
    logs: 'SELECT log, head, write_id, move_state, move_peer FROM chronicle_logs ORDER BY log',
    pages: `SELECT log, first_position, last_position, md5(events) AS events, length(events) AS chars, array_to_string(ends, ',') AS ends
              FROM chronicle_pages ORDER BY log, first_position`,
    ids: 'SELECT log, id, position FROM chronicle_event_ids ORDER BY log, id',
    heads: 'SELECT log, aggregate_id, head FROM chronicle_heads ORDER BY log, aggregate_id',
    ranges: 'SELECT log, client_id, from_seq, to_seq, first_position, ids FROM chronicle_ranges ORDER BY log, client_id, from_seq',
    clients: 'SELECT log, client_id, client_seq, epoch FROM chronicle_clients ORDER BY log, client_id',
  };
  const out: Record<string, unknown> = {};
  for (const [name, sql] of Object.entries(tables)) {
    out[name] = (await driver.query<Record<string, unknown>>(sql)).map((r) => Object.values(r).map(String));
  }
  return JSON.stringify(out);
}

const eventsTableExists = async (driver: SqlDriver) =>
  (await driver.query<{ t: string | null }>(`SELECT to_regclass('chronicle_events')::text AS t`))[0]?.t ?? null;

/** One event of `clientId` at `clientSeq`, for a push after the migration. */
const newEvent = (
  clientId: string,
  clientSeq: number,
  aggregateId: string,
  seq: number,
  id = `after:${clientId}:${clientSeq}`,
): PushEvent => makeEvent({ clientId, clientSeq, aggregateId, seq, id, data: { after: true, note: '😀 é' } });

const pushOf = (clientId: string, from: number, events: PushEvent[], epoch?: number): PushRequest => ({
  protocolVersion: PROTOCOL_VERSION,
  clientId,
  from,
  to: from + events.length - 1,
  events,
  ...(epoch === undefined ? {} : { epoch }),
});

// ---------------------------------------------------------------------------

interface Backend {
  /** An empty database (or data directory) that schema 4 is then made in. */
  create(release: V4Release): Promise<void>;
  openV4(release: V4Release): Promise<LogStore>;
  /** Opens the current store, which migrates. */
  openCurrent(): Promise<LogStore>;
  /** Opens two at once (where several processes can share the database), or one. */
  openCurrentTwice?(): Promise<LogStore[]>;
  drop(): Promise<void>;
}

/** What the stores of the current release reported while they migrated (every backend of this file, in order). */
const progressSeen: MigrationProgress[] = [];
const onMigrationProgress = (progress: MigrationProgress): void => void progressSeen.push(progress);

function migrationSuite(name: string, backend: () => Backend) {
  describeV4(name, (release) => {
    let db: Backend;
    let before: V4State;
    let store: LogStore;
    let driver: SqlDriver;
    let firstSnapshot: string;

    beforeAll(async () => {
      expect(release.SCHEMA_VERSION).toBe(4);
      db = backend();
      await db.create(release);
      const old = await db.openV4(release);
      before = await fillV4(old);
      await old.close();

      // The data exercise what the migration must get right.
      const big = before.rows.get(BIG_LOG)!;
      expect(big.length).toBe(BIG_EVENTS);
      expect(big.length).toBeGreaterThan(MOVE_CHUNK);
      expect(big.filter((r) => r.event.length > 400_000).map((r) => r.position)).toEqual(BIG_AT.flatMap((at) => [at, at + 1, at + 2]));
      // Pages cut by characters, one of them last in the first chunk (the page carried over).
      const pages = buildPages(
        1,
        big.map((r) => r.event),
      );
      expect(pages.filter((p) => p.first % PAGE_EVENTS !== 1).length).toBeGreaterThan(1);
      const carried = pages.find((p) => p.last === MOVE_CHUNK)!;
      expect(carried.first).toBeGreaterThan(MOVE_CHUNK - PAGE_EVENTS + 1);
      expect(runs(big).filter((r) => r.clientId === 'tablet-é😀').length).toBeGreaterThan(3); // a client in several runs
      expect(runs(big).some((r) => r.ids.length > MOVE_RANGE_IDS)).toBe(true); // a run the migration cuts

      // 1. The current store opens it and migrates, saying how far it is after each window of events.
      progressSeen.length = 0;
      const opened = db.openCurrentTwice ? await db.openCurrentTwice() : [await db.openCurrent()];
      const total = [...before.rows.values()].reduce((n, rows) => n + rows.length, 0);
      // The big log takes several windows: a small first one, then as many events as make about 4 MiB of text.
      expect(progressSeen.filter((p) => p.log === BIG_LOG).length).toBeGreaterThan(2);
      expect(progressSeen.every((p, i) => p.fromVersion === 4 && p.toVersion === 5 && p.events > (progressSeen[i - 1]?.events ?? 0))).toBe(
        true,
      );
      expect(progressSeen.at(-1)!.events).toBe(total);
      driver = (opened[0] as SqlLogStore).driver;
      firstSnapshot = await snapshot(driver);
      for (const s of opened) await s.close();
      // 2. Opened again: nothing to do.
      store = await db.openCurrent();
      driver = (store as SqlLogStore).driver;
    }, 600_000);

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('is at schema 5, without chronicle_events, and a second opening changed nothing', async () => {
      expect(SCHEMA_VERSION).toBe(5);
      expect((await driver.query<{ version: unknown }>('SELECT version FROM chronicle_schema')).map((r) => n(r.version))).toEqual([5]);
      expect(await eventsTableExists(driver)).toBeNull();
      expect(await snapshot(driver)).toBe(firstSnapshot);
      expect(n((await driver.query<{ c: unknown }>('SELECT count(*) AS c FROM chronicle_event_ids'))[0]!.c)).toBe(
        [...before.rows.values()].reduce((sum, rows) => sum + rows.length, 0),
      );
    });

    it('serves every event of every log byte for byte as schema 4 stored and served it, gapless, with the same heads', async () => {
      for (const log of LOGS) {
        const rows = before.rows.get(log)!;
        const texts = rows.map((r) => r.event);
        expect(
          rows.map((r) => r.position),
          log,
        ).toEqual(rows.map((_, i) => i + 1));
        expect(before.served.get(log), log).toEqual(texts);
        const after = await pullAll(store, log);
        expect(after.head, log).toBe(before.logs.find((l) => l.log === log)?.head ?? 0);
        expect(after.head, log).toBe(texts.length);
        // toEqual on arrays of strings compares them exactly; one mismatch is then reported alone.
        expect(after.texts.length, log).toBe(texts.length);
        for (let i = 0; i < texts.length; i++)
          if (after.texts[i] !== texts[i]) expect(after.texts[i], `${log} position ${i + 1}`).toBe(texts[i]);
        expect(after.texts.map((t) => (JSON.parse(t) as { position: number }).position)).toEqual(texts.map((_, i) => i + 1));
        // A pull at the head: nothing, no more.
        expect(await store.pull(log, { after: texts.length, limit: 10 })).toMatchObject({
          eventsJson: [],
          head: texts.length,
          hasMore: false,
        });
      }
    });

    it('serves any range of the big log: small pulls that start and end around every page boundary', async () => {
      const texts = before.rows.get(BIG_LOG)!.map((r) => r.event);
      const pages = await driver.query<{ f: unknown }>(
        'SELECT first_position AS f FROM chronicle_pages WHERE log = $1 ORDER BY first_position',
        [BIG_LOG],
      );
      const starts = pages.map((p) => n(p.f));
      expect(starts.length).toBeGreaterThan(7);
      for (const start of [...starts, MOVE_CHUNK + 1, ...BIG_AT]) {
        for (const after of [start - 3, start - 2, start - 1, start]) {
          if (after < 0) continue;
          for (const limit of [1, 2, 5]) {
            const page = await store.pull(BIG_LOG, { after, limit });
            expect(page.eventsJson, `after ${after}, limit ${limit}`).toEqual(texts.slice(after, after + limit));
            expect(page.hasMore).toBe(after + limit < texts.length);
          }
        }
      }
    });

    it('keeps its pages, ids, heads and client ranges as a write would have made them', async () => {
      for (const log of LOGS) {
        const rows = before.rows.get(log)!;
        const texts = rows.map((r) => r.event);
        // Pages: consecutive from 1 to the head, cut as one write of the whole log would cut them (a chunk's tail is carried over).
        const pages = (
          await driver.query<Record<string, unknown>>(
            `SELECT first_position, last_position, events, array_to_string(ends, ',') AS ends FROM chronicle_pages WHERE log = $1 ORDER BY first_position`,
            [log],
          )
        ).map((p) => ({ first: n(p.first_position), last: n(p.last_position), events: String(p.events), ends: parseEnds(String(p.ends)) }));
        expect(
          pages.map((p) => [p.first, p.last]),
          log,
        ).toEqual(buildPages(1, texts).map((p) => [p.first, p.last]));
        const out: string[] = [];
        for (const page of pages) {
          expect(page.ends.length).toBe(page.last - page.first + 1);
          expect(page.ends.length).toBeLessThanOrEqual(PAGE_EVENTS);
          if (page.ends.length > 1) expect(page.events.length).toBeLessThanOrEqual(PAGE_CHARS);
          eventsOfPage(page, page.first - 1, page.last, out);
        }
        expect(out.length).toBe(texts.length);
        expect(out.every((t, i) => t === texts[i])).toBe(true);

        // Ids: one per event, at its position.
        const ids = await driver.query<{ id: string; position: unknown }>(
          'SELECT id, position FROM chronicle_event_ids WHERE log = $1 ORDER BY position',
          [log],
        );
        expect(ids.map((r) => [r.id, n(r.position)])).toEqual(rows.map((r) => [r.id, r.position]));

        // Heads: each aggregate's last seq.
        const heads = await driver.query<{ a: string; h: unknown }>(
          'SELECT aggregate_id AS a, head AS h FROM chronicle_heads WHERE log = $1',
          [log],
        );
        const expected = new Map<string, number>();
        for (const r of rows) expected.set(r.aggregateId, Math.max(expected.get(r.aggregateId) ?? 0, r.seq));
        expect(new Map(heads.map((h) => [h.a, n(h.h)]))).toEqual(expected);

        // Ranges: each run of one client's events where clientSeq and position go on together, with its ids.
        const ranges = (
          await driver.query<Record<string, unknown>>(
            'SELECT client_id, from_seq, to_seq, first_position, ids FROM chronicle_ranges WHERE log = $1 ORDER BY first_position',
            [log],
          )
        ).map((r) => ({
          clientId: String(r.client_id),
          from: n(r.from_seq),
          to: n(r.to_seq),
          first: n(r.first_position),
          ids: JSON.parse(String(r.ids)) as string[],
        }));
        expect(ranges).toEqual(cutRuns(runs(rows), MOVE_RANGE_IDS));
      }
    });

    it('keeps the clients: marks and epochs', async () => {
      const clients = (
        await driver.query<Record<string, unknown>>(
          'SELECT log, client_id, client_seq, epoch FROM chronicle_clients ORDER BY log, client_id',
        )
      ).map((r) => ({ log: String(r.log), client_id: String(r.client_id), client_seq: n(r.client_seq), epoch: n(r.epoch) }));
      expect(clients).toEqual(before.clients);
      expect(before.clients.find((c) => c.log === SMALL_LOG && c.client_id === 'tablet-é😀')?.epoch).toBe(2);
      expect(before.clients.find((c) => c.log === FENCED_LOG && c.client_id === 'till-1')).toMatchObject({ client_seq: 0, epoch: 5 });
      for (const c of before.clients) {
        expect(await store.clientSeq(c.log, c.client_id)).toBe(c.client_seq);
        expect((await store.pull(c.log, { after: 0, limit: 1, clientId: c.client_id })).clientSeq).toBe(c.client_seq);
      }
      // Epochs still bar pushes made before a fence.
      const stale = await refusal(store.push(SMALL_LOG, pushOf('tablet-é😀', 17, [newEvent('tablet-é😀', 17, 'order-1', 99)], 1)));
      expect(stale).toMatchObject({ code: 'STALE_EPOCH', details: { current: 2, epoch: 1 } });
      expect(await refusal(store.push(FENCED_LOG, pushOf('till-1', 1, [newEvent('till-1', 1, 'order-1', 1)], 4)))).toMatchObject({
        code: 'STALE_EPOCH',
        details: { current: 5 },
      });
    });

    it('acknowledges every push of schema 4, retried, as a duplicate with its original positions', async () => {
      const marks = new Map(before.clients.map((c) => [`${c.log}\u0000${c.client_id}`, c.client_seq]));
      for (const { log, push, result } of before.steps) {
        const retried = await store.push(log, push);
        expect(retried.positions, `${log} ${push.clientId} ${push.from}..${push.to}`).toEqual(result.positions);
        expect(retried).toMatchObject({
          duplicates: push.events.length,
          appended: 0,
          head: before.rows.get(log)!.length,
          clientSeq: marks.get(`${log}\u0000${push.clientId}`),
        });
      }
      for (const log of LOGS) expect(await store.head(log)).toBe(before.rows.get(log)!.length);
    }, 300_000);

    it('refuses a new event with a stored id (DUPLICATE_EVENT_ID), naming the client and clientSeq that stored it in that log', async () => {
      for (const log of [BIG_LOG, SMALL_LOG, ONE_LOG]) {
        const rows = before.rows.get(log)!;
        // The first and last events, the first and last of every run, the ids that are not the default, some at random.
        const rnd = seededRandom(log.length);
        const picked = new Set<V4Row>([rows[0]!, rows[rows.length - 1]!]);
        for (const r of runs(rows).slice(0, 40)) {
          picked.add(rows[r.first - 1]!);
          picked.add(rows[r.first - 1 + r.ids.length - 1]!);
        }
        for (const r of rows) if (r.id.includes('\u0001') || (!r.id.startsWith(`${r.clientId}:`) && rnd() < 0.2)) picked.add(r);
        for (let i = 0; i < 20; i++) picked.add(rows[Math.floor(rnd() * rows.length)]!);
        expect(picked.size).toBeGreaterThan(log === BIG_LOG ? 50 : 0);
        if (log === BIG_LOG) expect([...picked].filter((r) => r.id.includes('\u0001')).length).toBeGreaterThan(0);
        for (const row of picked) {
          const refused = await refusal(store.push(log, pushOf('newcomer', 1, [newEvent('newcomer', 1, 'fresh', 1, row.id)])));
          expect(refused, `${log} ${JSON.stringify(row.id)}`).toMatchObject({
            code: 'DUPLICATE_EVENT_ID',
            details: { id: row.id, clientSeq: 1, storedClientId: row.clientId, storedClientSeq: row.clientSeq, position: row.position },
          });
        }
      }
      // The same id is another event in each log.
      const inBig = before.rows.get(BIG_LOG)!.find((r) => r.id === 'till-1:1')!;
      const inSmall = before.rows.get(SMALL_LOG)!.find((r) => r.id === 'till-1:1')!;
      expect(inBig.position).not.toBe(inSmall.position);
      // An existing client, at its next clientSeq.
      const mark = before.clients.find((c) => c.log === SMALL_LOG && c.client_id === 'till-1')!.client_seq;
      expect(
        await refusal(store.push(SMALL_LOG, pushOf('till-1', mark + 1, [newEvent('till-1', mark + 1, 'fresh', 1, 'till-1:1')]))),
      ).toMatchObject({
        code: 'DUPLICATE_EVENT_ID',
        details: { storedClientId: 'till-1', storedClientSeq: 1, position: inSmall.position },
      });
      expect(await store.clientSeq(BIG_LOG, 'newcomer')).toBe(0);
      for (const log of LOGS) expect(await store.head(log)).toBe(before.rows.get(log)!.length);
    }, 300_000);

    it('refuses an event at a stale seq (SEQ_CONFLICT) with its aggregate head, then accepts each aggregate continued at head + 1', async () => {
      for (const log of [BIG_LOG, SMALL_LOG, ONE_LOG]) {
        const rows = before.rows.get(log)!;
        const heads = new Map<string, number>();
        for (const r of rows) heads.set(r.aggregateId, r.seq);
        for (const [aggregateId, head] of heads) {
          for (const seq of [head, 1, head + 2]) {
            if (seq === head + 1) continue;
            const refused = await refusal(store.push(log, pushOf('newcomer', 1, [newEvent('newcomer', 1, aggregateId, seq)])));
            expect(refused, `${log} ${aggregateId} at ${seq}`).toMatchObject({
              code: 'SEQ_CONFLICT',
              details: { aggregateId, seq, head, expected: head + 1 },
            });
          }
        }
        // One push continues every aggregate: its events take the positions after the head, in order.
        const aggregates = [...heads.keys()];
        const events = aggregates.map((a, i) => newEvent('newcomer', i + 1, a, heads.get(a)! + 1));
        const accepted = await store.push(log, pushOf('newcomer', 1, events));
        expect(accepted).toMatchObject({
          duplicates: 0,
          appended: events.length,
          head: rows.length + events.length,
          clientSeq: events.length,
        });
        expect(accepted.positions.map((p) => p.position)).toEqual(events.map((_, i) => rows.length + i + 1));
        // And the heads moved: the seq just taken is stale now.
        expect(
          await refusal(
            store.push(
              log,
              pushOf('newcomer', events.length + 1, [
                newEvent('newcomer', events.length + 1, aggregates[0]!, heads.get(aggregates[0]!)! + 1),
              ]),
            ),
          ),
        ).toMatchObject({ code: 'SEQ_CONFLICT', details: { head: heads.get(aggregates[0]!)! + 1 } });
        const pulled = await pullAll(store, log);
        expect(pulled.texts.slice(0, rows.length)).toEqual(rows.map((r) => r.event));
        expect(pulled.texts.slice(rows.length).map((t) => (JSON.parse(t) as { id: string; position: number }).position)).toEqual(
          events.map((_, i) => rows.length + i + 1),
        );
      }
    }, 300_000);

    it('acknowledges a retried push that goes one event past the mark: the old ones at their positions, the new one at the head', async () => {
      for (const log of [BIG_LOG, SMALL_LOG]) {
        const head = await store.head(log);
        for (const clientId of log === BIG_LOG ? CLIENTS : ['till-1', 'tablet-é😀']) {
          const last = [...before.steps].reverse().find((s) => s.log === log && s.push.clientId === clientId)!;
          const mark = last.push.to;
          const epoch = last.push.epoch;
          const push = pushOf(clientId, last.push.from, [...last.push.events, newEvent(clientId, mark + 1, `next-${clientId}`, 1)], epoch);
          const before1 = await store.head(log);
          const result = await store.push(log, push);
          expect(result.positions, `${log} ${clientId}`).toEqual([
            ...last.result.positions,
            { id: `after:${clientId}:${mark + 1}`, clientSeq: mark + 1, position: before1 + 1 },
          ]);
          expect(result).toMatchObject({ duplicates: last.push.events.length, appended: 1, clientSeq: mark + 1, head: before1 + 1 });
        }
        expect(await store.head(log)).toBe(head + (log === BIG_LOG ? CLIENTS.length : 2));
      }
    }, 300_000);

    it('opened once more, serves the moved events and the new ones, still at schema 5', async () => {
      const heads = new Map<string, number>();
      const texts = new Map<string, string[]>();
      for (const log of LOGS) {
        const all = await pullAll(store, log);
        heads.set(log, all.head);
        texts.set(log, all.texts);
      }
      await store.close();
      store = await db.openCurrent();
      driver = (store as SqlLogStore).driver;
      expect((await driver.query<{ version: unknown }>('SELECT version FROM chronicle_schema')).map((r) => n(r.version))).toEqual([5]);
      expect(await eventsTableExists(driver)).toBeNull();
      for (const log of LOGS) {
        const all = await pullAll(store, log, 777);
        expect(all.head).toBe(heads.get(log));
        expect(all.texts).toEqual(texts.get(log));
        expect(all.texts.slice(0, before.rows.get(log)!.length)).toEqual(before.rows.get(log)!.map((r) => r.event));
      }
    }, 120_000);
  });
}

/** Runs cut so that none holds more than `max` ids, from each run's start (as the migration caps its ranges). */
function cutRuns(all: ReturnType<typeof runs>, max: number): ReturnType<typeof runs> {
  return all.flatMap((run) =>
    Array.from({ length: Math.ceil(run.ids.length / max) }, (_, k) => {
      const ids = run.ids.slice(k * max, (k + 1) * max);
      return { clientId: run.clientId, from: run.from + k * max, to: run.from + k * max + ids.length - 1, first: run.first + k * max, ids };
    }),
  );
}

/** The runs of a log's events (in position order) where one client's clientSeq and the position go on by one together. */
function runs(rows: readonly V4Row[]): { clientId: string; from: number; to: number; first: number; ids: string[] }[] {
  const out: { clientId: string; from: number; to: number; first: number; ids: string[] }[] = [];
  let previous: V4Row | undefined;
  for (const row of rows) {
    const current = out[out.length - 1];
    if (
      current &&
      previous &&
      row.clientId === previous.clientId &&
      row.clientSeq === previous.clientSeq + 1 &&
      row.position === previous.position + 1
    ) {
      current.to = row.clientSeq;
      current.ids.push(row.id);
    } else {
      out.push({ clientId: row.clientId, from: row.clientSeq, to: row.clientSeq, first: row.position, ids: [row.id] });
    }
    previous = row;
  }
  return out;
}

migrationSuite('schema 4 -> 5 on PGlite (a data directory)', () => {
  let dataDir: string | undefined;
  return {
    async create() {
      // PGlite's store makes its data directory itself (initdb in a child process); schema 4 makes its tables.
      dataDir = await mkdtemp(join(tmpdir(), 'chronicle-migrate-5-'));
    },
    openV4: (release) => release.createPgliteStore({ dataDir: dataDir! }),
    openCurrent: () => createPgliteStore({ dataDir: dataDir!, onMigrationProgress }),
    async drop() {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describePg('schema 4 -> 5 on PostgreSQL', () => {
  migrationSuite('two servers start on a schema-4 database at once', () => {
    let database: TestDatabase | undefined;
    return {
      async create(release) {
        database = await createTestDatabase();
        // Schema 4 by hand: its tables as that release made them, at version 4.
        const admin = new pg.Client({ connectionString: database.url });
        await admin.connect();
        try {
          await admin.query(release.SCHEMA_SQL);
          await admin.query('INSERT INTO chronicle_schema (version) VALUES (4)');
        } finally {
          await admin.end();
        }
      },
      openV4: (release) => release.createPostgresStore({ connectionString: database!.url, poolSize: 4 }),
      // The default timeouts (statement_timeout 10 s): the migration's statements each touch one window.
      openCurrent: () => createPostgresStore({ connectionString: database!.url, poolSize: 4, onMigrationProgress }),
      // Two servers of the new release start at once: one migrates, the other finds it done.
      openCurrentTwice: () =>
        Promise.all([0, 1].map(() => createPostgresStore({ connectionString: database!.url, poolSize: 4, onMigrationProgress }))),
      async drop() {
        await database?.drop();
      },
    };
  });
});
