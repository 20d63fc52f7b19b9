/**
 * The cost of end-to-end encryption (README "Encryption"), run from
 * bench/run.mjs in its Node process (loaded through tsx): the same work done
 * by the same browser engine (in the bench page, engine in a Web Worker) with
 * and without `sync.encryption`, against one sync server started here, in
 * interleaved rounds of the same run. Ratio = unencrypted / encrypted (the
 * share of the unencrypted speed kept; 1 = free).
 *
 *   initial-sync-encrypted  a fresh store pulls 100k events (decrypting each, AES-GCM in the worker)
 *   replay-encrypted        a full replay of the store that encrypted sync filled (events are stored decrypted: expected ~1)
 *   push-encrypted          20k locally appended events pushed (sealing each) and confirmed by the pull that follows each push
 *
 * The server log: PostgreSQL (a database made for the run on
 * CHRONICLE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, dropped
 * afterwards), or the embedded PGlite store without it. The encrypted log is
 * sealed here, per the documented envelope format, with node:crypto and the
 * same key the page is given.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { uuidv7 } from '../src/core/ids.ts';
import { PROTOCOL_VERSION, type PushRequest } from '../src/core/protocol.ts';
import { createPgliteStore, createPostgresStore, createSyncServer, silentLogger, type LogStore } from '../src/server/index.ts';
import type { EncryptionBenchApi } from './encryption-page.ts';

export const ENCRYPTION_SIZES = {
  /** initial-sync-encrypted: the same log as initial-sync (1,000 aggregates × 100 events, 20 clients). */
  aggregates: 1_000,
  eventsPerAggregate: 100,
  clients: 20,
  pageSize: 1_000,
  pushEvents: 20_000,
  /** Rounds per side, interleaved (plain, encrypted, plain, ...); the best of each side is reported. */
  rounds: 3,
  /** Events sealed and opened in the page for the per-event crypto cost. */
  cryptoEvents: 20_000,
} as const;

const PG_BASE_URL = process.env.CHRONICLE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const KEY = Array.from({ length: 32 }, (_, i) => (i * 29 + 11) & 0xff);
const TOKEN = 'bench-encryption-token';
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Metric {
  name: string;
  unit: string;
  chronicle: number;
  baseline: number;
  baselineName: string;
  ratio: number;
  notes?: string;
  [extra: string]: unknown;
}

export interface EncryptionBenchOptions {
  page: Page;
  add(metric: Metric): void;
  log(...args: unknown[]): void;
}

/** mulberry32, as in bench/data.ts. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CARRIERS = ['DHL', 'UPS', 'FedEx', 'GLS'];

/** The log: Order events of bench/model.ts, each client editing its own aggregates, clients interleaved. */
function pushes(): PushRequest[][] {
  const { aggregates, eventsPerAggregate, clients } = ENCRYPTION_SIZES;
  const perClient = aggregates / clients;
  return Array.from({ length: clients }, (_, c) => {
    const random = prng(500 + c);
    const clientId = uuidv7(1_700_000_000_000 + c);
    const events: PushRequest['events'] = [];
    for (let k = 0; k < perClient * eventsPerAggregate; k++) {
      const a = c * perClient + (k % perClient);
      const seq = Math.floor(k / perClient) + 1;
      const occurredAt = 1_732_000_000_000 + c * 10_000_000 + k * 7;
      let body: { type: string; version: number; data: Record<string, string | number> };
      if (seq === 1) body = { type: 'OrderPlaced', version: 1, data: { customerId: `cust-${(a % 500).toString().padStart(4, '0')}` } };
      else if (seq === eventsPerAggregate) body = { type: 'OrderShipped', version: 1, data: { carrier: CARRIERS[a % CARRIERS.length]! } };
      else {
        const sku = `sku-${Math.floor(random() * 200)
          .toString()
          .padStart(4, '0')}`;
        body =
          random() < 0.1
            ? { type: 'ItemRemoved', version: 1, data: { sku } }
            : {
                type: 'ItemAdded',
                version: 2,
                data: { sku, qty: 1 + Math.floor(random() * 5), price: Math.round(random() * 10000) / 100 },
              };
      }
      events.push({
        id: uuidv7(occurredAt),
        aggregateId: `order-${a.toString().padStart(6, '0')}`,
        aggregateType: 'Order',
        seq,
        ...body,
        meta: { occurredAt, clientId, clientSeq: k + 1 },
      });
    }
    const list: PushRequest[] = [];
    for (let i = 0; i < events.length; i += 500) {
      const slice = events.slice(i, i + 500);
      list.push({
        protocolVersion: PROTOCOL_VERSION,
        clientId,
        from: slice[0]!.meta.clientSeq,
        to: slice[slice.length - 1]!.meta.clientSeq,
        events: slice,
      });
    }
    return list;
  });
}

/**
 * Seals an event as docs/protocol.md ("Encrypted payloads") describes it, with
 * Node's own AES-GCM rather than Chronicle's code: the browser engine opening
 * these checks that the documented format is enough for another implementation
 * (and node:crypto seals 100k events in a fraction of WebCrypto's time in Node).
 */
function sealPerDocs(event: PushRequest['events'][number], log: string, kid: string, key: Buffer): PushRequest['events'][number] {
  const { correlationId, causationId, ...clearMeta } = event.meta;
  const payload = {
    data: event.data,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(causationId === undefined ? {} : { causationId }),
  };
  const meta = clearMeta;
  const aad = JSON.stringify([
    'chronicle-enc/1',
    log,
    kid,
    event.id,
    event.aggregateId,
    event.aggregateType,
    event.seq,
    event.type,
    event.version,
    meta.occurredAt,
    meta.clientId,
    meta.clientSeq,
  ]);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { ...event, meta, data: { $enc: 1, kid, iv: iv.toString('base64url'), ct: ct.toString('base64url') } };
}

function sealPushes(all: PushRequest[][], log: string): PushRequest[][] {
  const key = Buffer.from(KEY);
  return all.map((list) => list.map((p) => ({ ...p, events: p.events.map((e) => sealPerDocs(e, log, 'bench-k1', key)) })));
}

/** Round-robin over the clients, so their aggregates interleave in the log. */
async function seed(store: LogStore, log: string, all: PushRequest[][]): Promise<{ events: number; bytes: number }> {
  let events = 0;
  let bytes = 0;
  for (let i = 0; all.some((list) => i < list.length); i++) {
    for (const list of all) {
      const push = list[i];
      if (!push) continue;
      events += push.events.length;
      for (const e of push.events) bytes += JSON.stringify(e).length;
      await store.push(log, push);
    }
  }
  return { events, bytes };
}

async function makeDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const name = `chronicle_bench_enc_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres`, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch {
    return undefined;
  } finally {
    await admin.end().catch(() => undefined);
  }
  return {
    url: `${PG_BASE_URL}/${name}`,
    async drop() {
      const client = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

const best = (values: number[]): number => Math.min(...values);

export async function encryptionMetrics({ page, add, log }: EncryptionBenchOptions): Promise<void> {
  const database = await makeDatabase();
  const store = database ? await createPostgresStore({ connectionString: database.url }) : await createPgliteStore();
  const server = createSyncServer({
    store,
    logger: silentLogger,
    auth: { tokens: { [TOKEN]: { id: 'bench-encryption', read: ['*'], write: ['*'] } } },
  });
  try {
    const plainLog = 'bench-enc-plain';
    const sealedLog = 'bench-enc-sealed';
    const plain = pushes();
    let t0 = performance.now();
    const sealed = sealPushes(plain, sealedLog);
    const sealMs = performance.now() - t0;
    t0 = performance.now();
    const plainSize = await seed(store, plainLog, plain);
    const sealedSize = await seed(store, sealedLog, sealed);
    const { url } = await server.listen(0, '127.0.0.1');
    log(
      `encryption: ${plainSize.events} events on a ${store.kind} server, avg ${round(plainSize.bytes / plainSize.events, 0)} bytes plain / ` +
        `${round(sealedSize.bytes / sealedSize.events, 0)} bytes sealed (sealed with node:crypto in ${round(sealMs, 0)} ms, both logs pushed in ${round(performance.now() - t0, 0)} ms, not timed)`,
    );

    await page.evaluate((path) => import(/* @vite-ignore */ path), '/bench/encryption-page.ts');
    type Arg<K extends keyof EncryptionBenchApi> = Parameters<EncryptionBenchApi[K]>[0];
    const call = <K extends keyof EncryptionBenchApi>(step: K, arg: Arg<K>): ReturnType<EncryptionBenchApi[K]> =>
      page.evaluate(
        ([s, a]: [string, unknown]) =>
          (window.chronicleEncryptionBench as unknown as Record<string, (a: unknown) => Promise<unknown>>)[s]!(a),
        [step, arg] as [string, unknown],
      ) as ReturnType<EncryptionBenchApi[K]>;
    const cost = await call('cryptoCost', ENCRYPTION_SIZES.cryptoEvents);
    log(
      `encryption: per event on the page's thread, seal ${cost.sealUs} µs, open ${cost.openUs} µs (${ENCRYPTION_SIZES.cryptoEvents} events, batches of 1,000)`,
    );
    const costNote = `crypto alone (Chronicle's seal/open on the page's thread, ${ENCRYPTION_SIZES.cryptoEvents} events): seal ${cost.sealUs} µs, open ${cost.openUs} µs per event`;

    const { pageSize, pushEvents, rounds } = ENCRYPTION_SIZES;
    const events = plainSize.events;
    const sync = { plain: [] as number[], sealed: [] as number[], replayPlain: [] as number[], replaySealed: [] as number[] };
    const push = { plain: [] as number[], sealed: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      await sleep(300);
      const p = await call('initialSync', { url, log: plainLog, token: TOKEN, events, pageSize });
      await sleep(300);
      const s = await call('initialSync', { url, log: sealedLog, token: TOKEN, events, pageSize, key: KEY });
      if (JSON.stringify(p.summary) !== JSON.stringify(s.summary))
        throw new Error(`encrypted and plain logs replay differently: ${JSON.stringify([p.summary, s.summary])}`);
      sync.plain.push(p.ms);
      sync.sealed.push(s.ms);
      sync.replayPlain.push(p.replayMs);
      sync.replaySealed.push(s.replayMs);
      log(`encryption round ${r + 1}: initial sync ${p.ms} ms plain, ${s.ms} ms encrypted; replay ${p.replayMs} / ${s.replayMs} ms`);

      await sleep(300);
      const pp = await call('push', { url, log: `bench-enc-push-plain-${r}`, token: TOKEN, events: pushEvents, pageSize });
      await sleep(300);
      const ps = await call('push', { url, log: `bench-enc-push-sealed-${r}`, token: TOKEN, events: pushEvents, pageSize, key: KEY });
      push.plain.push(pp.ms);
      push.sealed.push(ps.ms);
      log(`encryption round ${r + 1}: push ${pp.ms} ms plain, ${ps.ms} ms encrypted`);
    }

    const roundsNote = (a: number[], b: number[]) => `rounds (plain / encrypted, ms): ${a.map((x, i) => `${x} / ${b[i]}`).join('; ')}`;
    add({
      name: 'initial-sync-encrypted',
      unit: 'ms',
      chronicle: best(sync.sealed),
      baseline: best(sync.plain),
      sealUsPerEvent: cost.sealUs,
      openUsPerEvent: cost.openUs,
      baselineName: 'the same initial sync without encryption (same server, same run)',
      ratio: round(best(sync.plain) / best(sync.sealed)),
      notes:
        `${events} events pulled ${pageSize} per page by a fresh store (engine in a Web Worker) from a ${store.kind} server, timed from openStore until all are stored; ` +
        `encrypted: every event opened (AES-GCM 256, AAD) in the worker before the page is stored; best of ${rounds}; ` +
        `encrypted pulls read the next page ahead (fetched and opened while the current one is stored), unencrypted ones do not; ` +
        `${round((events / best(sync.sealed)) * 1000, 0)} vs ${round((events / best(sync.plain)) * 1000, 0)} ev/s; ${costNote}; ${roundsNote(sync.plain, sync.sealed)}`,
    });
    add({
      name: 'replay-encrypted',
      unit: 'ms',
      chronicle: best(sync.replaySealed),
      baseline: best(sync.replayPlain),
      baselineName: 'full replay of the store the unencrypted sync filled',
      ratio: round(best(sync.replayPlain) / best(sync.replaySealed)),
      notes: `store.replay folding ${events} events of the store each initial sync filled (pulled events are stored decrypted, so replay does no crypto); best of ${rounds}; ${roundsNote(sync.replayPlain, sync.replaySealed)}`,
    });
    add({
      name: 'push-encrypted',
      unit: 'ms',
      chronicle: best(push.sealed),
      baseline: best(push.plain),
      baselineName: 'the same push without encryption (same server, same run)',
      ratio: round(best(push.plain) / best(push.sealed)),
      notes:
        `${pushEvents} events appended locally, then the store reopened with sync: timed from openStore until the server confirmed all ` +
        `(pushes of 500, each followed by the pull that confirms it, which opens the events again when encrypted); best of ${rounds}; ${costNote}; ${roundsNote(push.plain, push.sealed)}`,
    });
  } finally {
    await server.close().catch(() => undefined);
    await database?.drop().catch((error: unknown) => log(`dropping the encryption bench database failed: ${(error as Error).message}`));
  }
}
