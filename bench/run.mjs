#!/usr/bin/env node
/**
 * npm run bench: serves the repo with Vite, opens bench/index.html in headless
 * Chromium (playwright-core, system /usr/bin/chromium), runs the benchmarks of
 * bench/bench.ts in the page, samples the page's and the engine worker's JS
 * heap over CDP during a second full-replay round, prints a table and writes
 * bench/results.json. Exits non-zero only when the bench itself crashed.
 *
 *   node bench/run.mjs            the whole bench
 *   node bench/run.mjs --probe    also time the Dexie replay baseline at several chunk sizes
 *   node bench/run.mjs --profile  instead: CPU-profile the page and the engine worker during ingest,
 *                                 local batch appends, replay, single appends and snapshot loads (bench/profile.ts)
 *   node bench/run.mjs --server   only the server metrics (server-push, server-push-pglite, initial-sync)
 *   node bench/run.mjs --in-memory  Chromium's IndexedDB in memory (an off-the-record context) instead of
 *                                 a profile directory on disk, the default
 *   node bench/run.mjs --only a,b only these metrics (and what they need: full-replay needs bulk-append's
 *                                 database); for iterating on one path, never for the figures in the README
 *   CHRONICLE_BENCH_SCALE=10000,100000 node bench/run.mjs --only scale
 *                                 the growth curves at other sizes (default 10k, 100k, 1M; the largest gets the scale metrics)
 *
 * The server metrics (bench/server-bench.ts, loaded through tsx) run in this
 * Node process: server-push on PostgreSQL (a database made for the run on
 * CHRONICLE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, dropped
 * afterwards) and on PGlite, then initial-sync, for which a sync server started
 * here on 127.0.0.1 serves the page.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tsImport } from 'tsx/esm/api';
import { createServer } from 'vite';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));
const GROWTH_SVG = fileURLToPath(new URL('./growth.svg', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-precise-memory-info',
  // V8 flags for diagnosing a run, e.g. CHRONICLE_BENCH_JS_FLAGS=--trace-gc with DEBUG=pw:browser (Chromium's stdout).
  ...(process.env.CHRONICLE_BENCH_JS_FLAGS ? [`--js-flags=${process.env.CHRONICLE_BENCH_JS_FLAGS}`] : []),
];
/** The name openStore gives the engine's worker (src/client/connection.ts). */
const ENGINE_WORKER_TITLE = 'chronicle-engine';
const HEAP_SAMPLE_MS = 20;
/** full-replay: timed rounds per side (interleaved; the fastest of each is reported). */
const REPLAY_ROUNDS = 3;
/**
 * full-replay-peak-heap: heap-sampled rounds per side (interleaved; the median peak of each is
 * reported). A peak is the live data plus whatever garbage the young generation holds when it is
 * sampled: one sampled round of the same code gave 0.55 in one run of four on 2026-12-04 and
 * 0.84-0.85 in the others (the page's peak 24.8 MB against 10.9-11.2 MB).
 * What --trace-gc shows of the high rounds (2026-12-05): V8 deserializes a message of more than
 * 100 KB (a readLog result of ~4,000 events is ~1 MB) straight into the old generation, so the
 * page's strings pile up there until a full GC, whose timing decides the peak. Tried that day:
 * the pages in messages under 100 KB each: worse (page 20-35 MB: the strings, now young, survive
 * scavenges and grow the young generation); the pages as moved UTF-8 bytes decoded with
 * TextDecoder: page 7-16 MB, but mostly because Blink makes such strings external (off the JS
 * heap, not less memory), and replay ~20 % slower; reads of 300 events: page 6 MB, worker
 * 15-16 MB, replay twice as slow. None kept. Kept: the engine in a worker walks a scan a few
 * pages per call (worker/scan-sessions.ts), reading IndexedDB ahead itself, 4,000 events at a
 * time, the next read starting when fewer than 8 pages wait: over four runs, the page's peaks
 * 7.2-15.8 MB, the worker's 9.7-13.7, medians 0.89-1.04; the fastest replay round 205-230 ms
 * against 186-229 before. (Below 4 pages: page 7.0-9.8 MB, replay ~15 % slower; below 16:
 * replay as before, one median of three at 0.67.)
 * The worker's 9-11.5 MB over its idle heap is mostly the pages it reads from IndexedDB:
 * Chromium puts a value read from IndexedDB in the old generation whatever its size
 * (idb-heap-probe.mjs), and the worker does little else in a replay. Dexie's page peak is
 * mostly the same effect. Storing pages as bytes would move that garbage off the
 * measured heap, not make it less.
 */
const HEAP_ROUNDS = 3;
/** A hung bench must not hang CI forever. */
const WATCHDOG_MS = 10 * 60 * 1000;
const PROBE = process.argv.includes('--probe');
const PROFILE = process.argv.includes('--profile');
const SERVER_ONLY = process.argv.includes('--server');
/**
 * Where the page's IndexedDB lives. By default in a profile directory on disk, as in a user's browser;
 * `--in-memory` runs in an off-the-record context instead, whose IndexedDB is held in memory (what every
 * run before 2026-12-07 measured: the disk's writes and flushes were in no figure).
 */
const IN_MEMORY = process.argv.includes('--in-memory');
const ONLY_AT = process.argv.indexOf('--only');
const ONLY = ONLY_AT >= 0 ? new Set((process.argv[ONLY_AT + 1] ?? '').split(',').filter(Boolean)) : undefined;
/** Whether a metric runs in this run (all of them unless --only names some). */
const wanted = (...names) => !ONLY || names.some((name) => ONLY.has(name));

const MB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n, digits = 2) => Number(n.toFixed(digits));
const log = (...args) => console.log('[bench]', ...args);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startVite() {
  const port = await freePort();
  const server = await createServer({
    root: ROOT,
    configFile: false, // vite.config.ts is the library build; the bench needs a plain dev server
    logLevel: 'warn',
    clearScreen: false,
    cacheDir: 'bench/.vite',
    appType: 'mpa',
    server: {
      host: '127.0.0.1',
      port,
      strictPort: true,
      // Others edit src/ while the bench runs: no watcher, no HMR, so nothing reloads the page mid-run.
      hmr: false,
      watch: null,
      // Cross-origin isolation: performance.now() at 5 µs instead of 100 µs.
      headers: {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      },
    },
    optimizeDeps: {
      // Pre-bundled up front. The engine's module worker (worker/index.ts) is not
      // crawled by Vite's scanner: without this a first run discovers idb/comlink
      // mid-run, re-optimizes and reloads the page.
      include: ['idb', 'comlink', 'zod', 'dexie'],
      entries: ['bench/index.html'],
      noDiscovery: true,
    },
    worker: { format: 'es' },
  });
  await server.listen();
  return { server, url: `http://127.0.0.1:${port}` };
}

/**
 * The page's dedicated workers, reached over CDP. Playwright keeps its own
 * (flattened) sessions to itself, so this attaches a second time in the
 * non-flattened mode: messages go through Target.sendMessageToTarget.
 */
class WorkerTargets {
  constructor(cdp) {
    this.cdp = cdp;
    this.sessions = new Map(); // sessionId -> { title, order }
    this.pending = new Map(); // message id -> { resolve, reject, sessionId }
    this.nextId = 1;
    this.attached = 0;
    cdp.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
      if (targetInfo.type === 'worker') this.sessions.set(sessionId, { title: targetInfo.title, order: ++this.attached });
    });
    cdp.on('Target.detachedFromTarget', ({ sessionId }) => {
      this.sessions.delete(sessionId);
      for (const [id, p] of this.pending) {
        if (p.sessionId === sessionId) {
          this.pending.delete(id);
          p.reject(new Error('worker detached'));
        }
      }
    });
    cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
      const reply = JSON.parse(message);
      if (reply.id === undefined) return;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.error) p.reject(new Error(reply.error.message));
      else p.resolve(reply.result);
    });
  }

  enable() {
    return this.cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  }

  send(sessionId, method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from the worker`));
      }, 10_000);
      this.pending.set(id, {
        sessionId,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch((error) => {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** The newest worker with this title attached after `mark` (a value of `attached`). */
  async waitFor(title, mark, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let best;
      for (const [sessionId, info] of this.sessions) {
        if (info.title === title && info.order > mark && (!best || info.order > best.order)) best = { sessionId, order: info.order };
      }
      if (best) return best.sessionId;
      await sleep(10);
    }
    throw new Error(`no ${title} worker attached within ${timeoutMs} ms`);
  }
}

/** Samples every source each `every` ms until `until` settles; one row per tick. */
async function sampleUntil(sources, until, every = HEAP_SAMPLE_MS) {
  let done = false;
  const settled = until.then(
    () => (done = true),
    () => (done = true),
  );
  const rows = [];
  while (!done) {
    const t0 = performance.now();
    rows.push(await Promise.all(sources.map((read) => read().catch(() => NaN))));
    const wait = every - (performance.now() - t0);
    if (wait > 0) await Promise.race([sleep(wait), settled]);
  }
  rows.push(await Promise.all(sources.map((read) => read().catch(() => NaN))));
  return rows;
}

const peak = (rows, pick) => rows.reduce((max, row) => Math.max(max, pick(row)), 0);

function sameSummary(a, b) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => (k === 'revenue' ? Math.abs(a[k] - b[k]) < 1e-3 : a[k] === b[k]));
}

const shortUrl = (url) => (url ? url.replace(/^https?:\/\/[^/]+\//, '').replace(/\?.*$/, '') : '');

/** Self time per function and per file from a CDP Profiler profile. */
function summarizeProfile(profile, top = 14) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map();
  const byFile = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    total += us;
    const { callFrame } = nodes.get(profile.samples[i]);
    const file = shortUrl(callFrame.url) || callFrame.functionName || '(native)';
    const fn = `${callFrame.functionName || '(anonymous)'} ${shortUrl(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const list = (map, n) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
  return { totalMs: round(total / 1000, 1), functions: list(byFunction, top), files: list(byFile, 10) };
}

async function runProfile(bench, cdp, workers) {
  const kinds = (process.env.CHRONICLE_PROFILE_KINDS ?? 'ingest,batch,replay,append,load').split(',').filter(Boolean);
  for (const kind of kinds) {
    const mark = workers.attached;
    await bench('cpuOpen', kind);
    const engine = await workers.waitFor(ENGINE_WORKER_TITLE, mark);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await workers.send(engine, 'Profiler.enable');
    await workers.send(engine, 'Profiler.setSamplingInterval', { interval: 200 });
    await Promise.all([cdp.send('Profiler.start'), workers.send(engine, 'Profiler.start')]);
    const ms = await bench('cpuRun', kind);
    const [pageProfile, workerProfile] = await Promise.all([cdp.send('Profiler.stop'), workers.send(engine, 'Profiler.stop')]);
    await bench('cpuClose');
    if (process.env.CHRONICLE_PROFILE_OUT) {
      for (const [side, { profile }] of [
        ['page', pageProfile],
        ['worker', workerProfile],
      ]) {
        await writeFile(`${process.env.CHRONICLE_PROFILE_OUT}/${kind}-${side}.cpuprofile`, JSON.stringify(profile));
      }
    }
    console.log(`\n=== CPU profile: ${kind} (${ms} ms wall, page + engine worker) ===`);
    for (const [side, { profile }] of [
      ['page', pageProfile],
      ['engine worker', workerProfile],
    ]) {
      const summary = summarizeProfile(profile);
      console.log(`--- ${side}: ${summary.totalMs} ms sampled; self time by function:`);
      for (const line of summary.functions) console.log(line);
      console.log(`--- ${side}: self time by file:`);
      for (const line of summary.files) console.log(line);
    }
  }
}

function printTable(metrics) {
  const rows = metrics.map((m) => ({
    name: m.name,
    unit: m.unit,
    chronicle: String(m.chronicle),
    baseline: String(m.baseline),
    baselineName: m.baselineName.length > 46 ? `${m.baselineName.slice(0, 45)}…` : m.baselineName,
    ratio: String(m.ratio),
    target: m.target === undefined ? '-' : `≥${m.target}`,
    result: m.target === undefined ? '-' : m.ratio >= m.target ? 'pass' : 'FAIL',
  }));
  const columns = ['name', 'unit', 'chronicle', 'baseline', 'baselineName', 'ratio', 'target', 'result'];
  const width = Object.fromEntries(columns.map((c) => [c, Math.max(c.length, ...rows.map((r) => r[c].length))]));
  const line = (r) =>
    columns.map((c) => (['chronicle', 'baseline', 'ratio'].includes(c) ? r[c].padStart(width[c]) : r[c].padEnd(width[c]))).join('  ');
  console.log();
  console.log(line(Object.fromEntries(columns.map((c) => [c, c]))));
  console.log(columns.map((c) => '-'.repeat(width[c])).join('  '));
  for (const r of rows) console.log(line(r));
  console.log();
  for (const m of metrics) {
    console.log(`${m.name}: baseline = ${m.baselineName}`);
    if (m.notes) console.log(`  ${m.notes}`);
  }
  console.log();
}

/** Events per pull page in initial-sync, on both sides (the sync engine's default). */
const SYNC_PAGE_SIZE = 1000;

/**
 * server-push (PostgreSQL, then PGlite) and initial-sync. The server side runs
 * here in Node; initial-sync's two sides run in the page against a sync server
 * started here. Without PostgreSQL, server-push on it is skipped (said so) and
 * the sync server uses PGlite.
 */
async function runServerMetrics(bench, add) {
  const server = await tsImport('./server-bench.ts', import.meta.url);
  const made = await server.createBenchDatabase();
  const database = 'error' in made ? undefined : made;
  if (!database) log(`server-push on PostgreSQL skipped: ${made.error}`);
  try {
    if (database) add(await server.serverPush({ kind: 'postgres', database, rounds: 3 }));
    add(await server.serverPush({ kind: 'pglite', rounds: 2 }));

    const sync = await server.startSyncServer(database);
    try {
      log(
        `initial-sync: ${sync.events} events (avg ${sync.avgEventBytes} bytes) pushed to a ${sync.store} server in ${sync.pushMs} ms (not timed), ${sync.url}`,
      );
      const target = { url: sync.url, log: sync.log, token: sync.token, events: sync.events, pageSize: SYNC_PAGE_SIZE };
      const dexie = await bench('initialSyncDexie', target);
      await sleep(300);
      const chronicle = await bench('initialSyncChronicle', target);
      add({
        name: 'initial-sync',
        unit: 'ms',
        chronicle: chronicle.ms,
        baseline: dexie.ms,
        baselineName: `the same pull endpoint read with fetch + response.json(), ${SYNC_PAGE_SIZE} events per page, each page bulkAdded into a Dexie table (one row per event), main thread`,
        ratio: round(dexie.ms / chronicle.ms),
        target: 3,
        chronicleOpenMs: chronicle.openMs,
        pages: { chronicle: chronicle.pages, baseline: dexie.pages },
        notes:
          `${sync.events} events on a ${sync.store} sync server (127.0.0.1, bearer token, CORS); Chronicle: openStore({ sync: { url, log, token, pullLimit: ${SYNC_PAGE_SIZE} } }) ` +
          `in the page (engine in a Web Worker), timed until sync.status().confirmedPosition = ${sync.events} (openStore took ${chronicle.openMs} ms of it), ` +
          `then readLog counted ${chronicle.count} events in ${chronicle.countMs} ms (not timed); Dexie: count() ${dexie.count} in ${dexie.countMs} ms (not timed). ` +
          `Chronicle ${round((sync.events / chronicle.ms) * 1000, 0)} ev/s, Dexie ${round((sync.events / dexie.ms) * 1000, 0)} ev/s`,
      });
    } finally {
      await sync.close();
    }
  } finally {
    await database?.drop().catch((error) => console.error('[bench] dropping the run database failed:', error.message));
  }
}

/** Store sizes of the growth curves; the largest is the scale check (open, load, replay, devtools). */
const SCALE_SIZES = (process.env.CHRONICLE_BENCH_SCALE ?? '10000,100000,1000000').split(',').map(Number);
/** A long task over this on the app's thread fails the scale check (issue 12). */
const LONG_TASK_BUDGET_MS = 200;

/**
 * Growth: ingest, index, open, load and replay at each size (and the devtools
 * panel), from one run. Adds open-1m and scale-1m-long-task for the largest
 * size, the curves to results.json (`growth`), and draws bench/growth.svg.
 */
async function runScale(bench, add) {
  const runs = [];
  for (const size of SCALE_SIZES) {
    const run = await bench('scaleRun', size, true);
    runs.push(run);
    log(
      `scale ${size}: ingest ${run.ingestMs} ms, indexed ${run.indexMs} ms later, open ${run.openMs} ms, load ${run.loadMs} ms, ` +
        `replay ${run.replayMs} ms, devtools ${run.devtoolsMs} ms (heap ${run.devtoolsHeapMB} MB), longest tasks ${JSON.stringify(run.longestTaskMs)}`,
    );
    await sleep(300);
  }
  const smallest = runs[0];
  const largest = runs[runs.length - 1];
  const label = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));
  add({
    name: `open-${label(largest.size).toLowerCase()}`,
    unit: 'ms',
    chronicle: largest.openMs,
    baseline: smallest.openMs,
    baselineName: `the same open on a ${label(smallest.size)}-event store (same run): how opening grows with the log`,
    ratio: round(smallest.openMs / largest.openMs),
    notes:
      `openStore in the page (fresh engine worker) until store.info() answers, on a store of ${largest.size} confirmed events ` +
      `(ingested with importConfirmed, pages of 1,000, and indexed before); ratio 1 = opening does not grow with the log`,
  });
  const longest = Math.max(...Object.values(largest.longestTaskMs));
  add({
    name: `scale-${label(largest.size).toLowerCase()}-long-task`,
    unit: 'ms',
    chronicle: longest,
    baseline: LONG_TASK_BUDGET_MS,
    baselineName: `the budget for one task on the app's thread (issue 12)`,
    ratio: round(LONG_TASK_BUDGET_MS / Math.max(longest, 1)),
    target: 1,
    longestTaskMs: largest.longestTaskMs,
    notes:
      `the longest task (PerformanceObserver 'longtask', over 50 ms) on the page's thread while a ${largest.size}-event store opened (${largest.openMs} ms), ` +
      `loaded an aggregate from its snapshot (${largest.loadMs} ms), replayed the whole log (${largest.replayMs} ms) and showed it in the devtools panel ` +
      `(${largest.devtoolsMs} ms, page heap ${largest.devtoolsHeapMB} MB after): ${JSON.stringify(largest.longestTaskMs)}; 0 = no task over 50 ms`,
  });
  await writeFile(GROWTH_SVG, growthSvg(runs));
  log(`wrote ${GROWTH_SVG}`);
  return runs;
}

/** A log-log plot of ingest, replay and open time against the log's size, with a dotted "linear" guide. */
function growthSvg(runs) {
  const width = 720;
  const height = 400;
  const pad = { left: 70, right: 200, top: 40, bottom: 50 };
  const series = [
    { key: 'ingestMs', name: 'ingest (importConfirmed)', color: '#1f77b4' },
    { key: 'replayMs', name: 'full replay', color: '#d62728' },
    { key: 'openMs', name: 'open (fresh worker)', color: '#2ca02c' },
  ];
  const sizes = runs.map((r) => r.size);
  const values = runs.flatMap((r) => series.map((s) => r[s.key])).filter((v) => v > 0);
  const [x0, x1] = [Math.log10(Math.min(...sizes)), Math.log10(Math.max(...sizes))];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...values))), Math.ceil(Math.log10(Math.max(...values)))];
  const x = (n) => pad.left + ((Math.log10(n) - x0) / Math.max(x1 - x0, 1e-9)) * (width - pad.left - pad.right);
  const y = (ms) =>
    height - pad.bottom - ((Math.log10(Math.max(ms, 10 ** y0)) - y0) / Math.max(y1 - y0, 1e-9)) * (height - pad.top - pad.bottom);
  const text = (tx, ty, s, extra = '') => `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${extra}>${s}</text>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(pad.left, 22, 'Chronicle: cost against log size (log-log; bench/run.mjs)', 'font-size="14" font-weight="bold"'),
  ];
  for (let e = y0; e <= y1; e++) {
    const ty = y(10 ** e);
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`);
    parts.push(text(pad.left - 8, ty + 4, e >= 3 ? `${10 ** (e - 3)} s` : `${10 ** e} ms`, 'text-anchor="end"'));
  }
  for (const n of sizes) {
    parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#eee"/>`);
    parts.push(text(x(n), height - pad.bottom + 18, n.toLocaleString('en-US'), 'text-anchor="middle"'));
  }
  parts.push(text((pad.left + width - pad.right) / 2, height - 12, 'events in the store', 'text-anchor="middle"'));
  // A guide through the first replay point with slope 1: what linear growth looks like.
  const first = runs[0];
  const last = runs[runs.length - 1];
  parts.push(
    `<line x1="${x(first.size)}" y1="${y(first.replayMs)}" x2="${x(last.size)}" y2="${y((first.replayMs * last.size) / first.size)}" stroke="#999" stroke-dasharray="4 4"/>`,
  );
  series.forEach((s, i) => {
    const points = runs.map((r) => `${x(r.size).toFixed(1)},${y(r[s.key]).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const r of runs) parts.push(`<circle cx="${x(r.size).toFixed(1)}" cy="${y(r[s.key]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = pad.top + 20 + i * 20;
    parts.push(
      `<line x1="${width - pad.right + 12}" x2="${width - pad.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`,
    );
    parts.push(text(width - pad.right + 38, ly, s.name));
  });
  const ly = pad.top + 20 + series.length * 20;
  parts.push(
    `<line x1="${width - pad.right + 12}" x2="${width - pad.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="#999" stroke-dasharray="4 4"/>`,
  );
  parts.push(text(width - pad.right + 38, ly, 'linear (replay)'));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

async function main() {
  const started = performance.now();
  const watchdog = setTimeout(() => {
    console.error(`[bench] watchdog: still running after ${WATCHDOG_MS / 1000} s, giving up`);
    process.exit(2);
  }, WATCHDOG_MS);

  let vite;
  let browser;
  let page;
  let profileDir;
  try {
    vite = await startVite();
    const launch = { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS };
    if (IN_MEMORY) {
      browser = await chromium.launch(launch);
      page = await browser.newPage();
    } else {
      profileDir = await mkdtemp(join(tmpdir(), 'chronicle-bench-profile-'));
      browser = await chromium.launchPersistentContext(profileDir, launch);
      page = browser.pages()[0] ?? (await browser.newPage());
    }
    page.on('pageerror', (error) => console.error('[page error]', error));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`[page ${message.type()}]`, message.text());
    });
    let loads = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) loads++;
    });

    const cdp = await page.context().newCDPSession(page);
    const workers = new WorkerTargets(cdp);
    await workers.enable();
    const pageHeap = async () => (await cdp.send('Runtime.getHeapUsage')).usedSize;
    const pageGc = () => cdp.send('HeapProfiler.collectGarbage');

    await page.goto(`${vite.url}/bench/index.html`);
    await page.waitForFunction(() => window.chronicleBench !== undefined, null, { timeout: 60_000 });
    const bench = async (step, ...args) => {
      const value = await page.evaluate(([s, a]) => window.chronicleBench[s](...a), [step, args]);
      if (loads !== 1) throw new Error('the page reloaded mid-run (Vite re-optimized?); results would be meaningless');
      return value;
    };

    const version = IN_MEMORY ? await browser.version() : await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0]);
    const storage = IN_MEMORY ? 'IndexedDB in memory (--in-memory)' : `IndexedDB on disk in ${profileDir}`;
    log(`${version} (${CHROMIUM}), ${cpus().length} cores, Node ${process.version}, ${vite.url}, ${storage}`);
    log('deleted databases:', (await bench('cleanup')).join(', '));
    const prepared = await bench('prepare');
    log(
      `generated ${prepared.events} events (${prepared.pages} pages, avg ${prepared.avgEventBytes} bytes of JSON per event) in ${prepared.generateMs} ms; crossOriginIsolated=${prepared.crossOriginIsolated}`,
    );

    if (PROFILE) {
      await runProfile(bench, cdp, workers);
      return;
    }

    const metrics = [];
    const add = (metric) => {
      metrics.push(metric);
      log(
        `${metric.name}: chronicle ${metric.chronicle} ${metric.unit}, baseline ${metric.baseline} ${metric.unit}, ratio ${metric.ratio}`,
      );
    };

    if (SERVER_ONLY) {
      await bench('release');
      await runServerMetrics(bench, add);
      printTable(metrics);
      await writeFile(RESULTS, `${JSON.stringify({ metrics }, null, 2)}\n`);
      log(`wrote ${RESULTS} (server metrics only) in ${round((performance.now() - started) / 1000, 1)} s`);
      return;
    }

    const replaying = wanted('full-replay', 'full-replay-peak-heap');
    if (wanted('bulk-append') || replaying) add(await bench('bulkAppend'));
    if (wanted('batch-append')) add(await bench('batchAppend'));
    await bench('release'); // the generated log must not count in the replay heaps

    if (PROBE) log('Dexie replay ms by chunk size:', JSON.stringify(await bench('dexieChunkProbe')));

    // full-replay: Dexie (reopened) first, then a cold Chronicle store (fresh worker); each side
    // after a forced GC. With `sampleHeaps`, the JS heaps are read over CDP every 20 ms while it runs.
    const replayRound = async (sampleHeaps) => {
      await sleep(300);
      const dexieOpen = await bench('replayOpenDexie');
      await pageGc();
      const dexieBefore = await pageHeap();
      const dexieRun = bench('replayRunDexie');
      const dexieRows = sampleHeaps ? await sampleUntil([pageHeap], dexieRun) : [];
      const dexie = await dexieRun;
      await bench('replayCloseDexie');

      await sleep(300);
      const mark = workers.attached;
      const chronicleOpen = await bench('replayOpenChronicle');
      const engineSession = await workers.waitFor(ENGINE_WORKER_TITLE, mark);
      const workerHeap = async () => (await workers.send(engineSession, 'Runtime.getHeapUsage')).usedSize;
      await pageGc();
      await workers.send(engineSession, 'HeapProfiler.collectGarbage');
      const pageBefore = await pageHeap();
      const workerBefore = await workerHeap();
      const chronicleRunning = bench('replayRunChronicle');
      const chronicleRows = sampleHeaps ? await sampleUntil([pageHeap, workerHeap], chronicleRunning) : [];
      const chronicle = await chronicleRunning;
      // What is still reachable once the replay is over: the heaps after a forced GC (not timed, not in the peak).
      let afterGc;
      if (sampleHeaps) {
        await pageGc();
        await workers.send(engineSession, 'HeapProfiler.collectGarbage');
        afterGc = { page: await pageHeap(), worker: await workerHeap() };
      }
      await bench('replayCloseChronicle');
      return { dexieOpen, dexieBefore, dexieRows, dexie, chronicleOpen, pageBefore, workerBefore, chronicleRows, chronicle, afterGc };
    };
    // Timed without sampling (reading a worker's heap over CDP interrupts it), in interleaved
    // rounds, the fastest of each side reported: one round of each moved by 40 % within a run
    // (Dexie 1.0 s and 1.4 s on 2026-12-04), as server-push's rounds do. Then HEAP_ROUNDS more on
    // the same databases, each side again from a fresh open, for the heaps.
    if (replaying) {
      const timedRounds = [];
      for (let r = 0; r < REPLAY_ROUNDS; r++) timedRounds.push(await replayRound(false));
      const fastest = (side) => timedRounds.reduce((a, b) => (b[side].ms < a[side].ms ? b : a));
      const { dexieOpen, dexie } = fastest('dexie');
      const { chronicleOpen, chronicle } = fastest('chronicle');
      const heapRounds = [];
      for (let r = 0; r < HEAP_ROUNDS; r++) heapRounds.push(await replayRound(true));
      await bench('deleteLogDatabases');

      for (const round of [...timedRounds, ...heapRounds]) {
        if (round.chronicle.processed !== prepared.events) {
          throw new Error(`replay handled ${round.chronicle.processed} of ${prepared.events} events`);
        }
        if (!sameSummary(round.chronicle.summary, round.dexie.summary)) {
          throw new Error(
            `replay results differ: chronicle ${JSON.stringify(round.chronicle.summary)} vs dexie ${JSON.stringify(round.dexie.summary)}`,
          );
        }
      }
      add({
        name: 'full-replay',
        unit: 'ms',
        chronicle: chronicle.ms,
        baseline: dexie.ms,
        baselineName: `Dexie table reopened, read in primary-key order (where('pos').above(last).limit(10000).toArray()) and folded, main thread`,
        ratio: round(dexie.ms / chronicle.ms),
        target: 4,
        notes:
          `${prepared.events} events folded by the same reducer (summary: ${JSON.stringify(chronicle.summary)}); ` +
          `Chronicle: new store on the same database (fresh worker, opened in ${chronicleOpen.openMs} ms, not timed), store.replay({ handler }); ` +
          `Dexie opened in ${dexieOpen.openMs} ms (not timed). Fastest of ${REPLAY_ROUNDS} interleaved rounds each, timed with no heap sampling ` +
          `(ms per round: Chronicle ${timedRounds.map((r) => r.chronicle.ms).join(' / ')}, Dexie ${timedRounds.map((r) => r.dexie.ms).join(' / ')}); ` +
          `the heap-sampled rounds after them took Chronicle ${heapRounds.map((r) => r.chronicle.ms).join(' / ')} ms, ` +
          `Dexie ${heapRounds.map((r) => r.dexie.ms).join(' / ')} ms`,
      });

      // Per sampled round, each side's peak; each side's median round is reported (the same rule for both).
      const peaks = heapRounds.map((round) => ({
        round,
        total: peak(round.chronicleRows, (r) => r[0] + r[1]),
        page: peak(round.chronicleRows, (r) => r[0]),
        worker: peak(round.chronicleRows, (r) => r[1]),
        dexie: peak(round.dexieRows, (r) => r[0]),
      }));
      const medianBy = (key) => [...peaks].sort((a, b) => a[key] - b[key])[peaks.length >> 1];
      const chronicleMedian = medianBy('total');
      const dexieMedian = medianBy('dexie');
      const { pageBefore, workerBefore, chronicleRows } = chronicleMedian.round;
      const { dexieBefore, dexieRows } = dexieMedian.round;
      const pagePeak = chronicleMedian.page;
      const workerPeak = chronicleMedian.worker;
      const totalPeak = chronicleMedian.total;
      const dexiePeak = dexieMedian.dexie;
      add({
        name: 'full-replay-peak-heap',
        unit: 'MB',
        chronicle: round(totalPeak / MB),
        baseline: round(dexiePeak / MB),
        baselineName: 'peak page JS heap during the Dexie replay (Dexie has no worker)',
        ratio: round(dexiePeak / totalPeak),
        target: 0.67,
        pagePeakMB: round(pagePeak / MB),
        workerPeakMB: round(workerPeak / MB),
        pageBeforeMB: round(pageBefore / MB),
        workerBeforeMB: round(workerBefore / MB),
        baselineBeforeMB: round(dexieBefore / MB),
        samples: { chronicle: chronicleRows.length, baseline: dexieRows.length },
        // Per round, the page's and the worker's own peaks, and what a forced GC after the replay leaves of each:
        // a round far above the others with the same heaps after GC held garbage not yet collected, not data.
        rounds: peaks.map((p) => ({
          chronicleMB: round(p.total / MB),
          pageMB: round(p.page / MB),
          workerMB: round(p.worker / MB),
          pageAfterGcMB: round(p.round.afterGc.page / MB),
          workerAfterGcMB: round(p.round.afterGc.worker / MB),
          baselineMB: round(p.dexie / MB),
        })),
        notes:
          `${HEAP_ROUNDS} more interleaved replay rounds on the same databases (fresh opens), Runtime.getHeapUsage (usedSize) over CDP every ${HEAP_SAMPLE_MS} ms, after a forced GC; ` +
          `each side's median peak of the ${HEAP_ROUNDS} (MB per round: Chronicle ${peaks.map((p) => round(p.total / MB)).join(' / ')}, Dexie ${peaks.map((p) => round(p.dexie / MB)).join(' / ')}); ` +
          `chronicle = peak of page + engine worker sampled together ` +
          `(page peak ${round(pagePeak / MB)} MB from ${round(pageBefore / MB)}, worker peak ${round(workerPeak / MB)} MB from ${round(workerBefore / MB)}); ` +
          `Dexie page peak ${round(dexiePeak / MB)} MB from ${round(dexieBefore / MB)}`,
      });
    }

    if (wanted('aggregate-load')) add(await bench('aggregateLoad'));
    if (wanted('append-roundtrip')) add(await bench('appendRoundtrip'));
    if (wanted('append-roundtrip-strict')) add(await bench('appendRoundtripStrict'));

    if (wanted('server-push', 'server-push-pglite', 'initial-sync')) await runServerMetrics(bench, add);

    const growth = wanted('open-1m', 'scale-1m-long-task', 'scale') ? await runScale(bench, add) : undefined;
    if (wanted('devtools-travel-long-task')) {
      const run = await bench('devtoolsTravel');
      add({
        name: 'devtools-travel-long-task',
        unit: 'ms',
        chronicle: run.longestTaskMs,
        baseline: LONG_TASK_BUDGET_MS,
        baselineName: `the budget for one task on the app's thread (issue 12)`,
        ratio: round(LONG_TASK_BUDGET_MS / Math.max(run.longestTaskMs, 1)),
        target: 1,
        notes:
          `the longest task on the page's thread while the devtools panel, showing ${run.events} events of two aggregates, ` +
          `selected an event and travelled ${run.steps - 1} times (middle, first, next, last): ${run.travelMs} ms in all; 0 = no task over 50 ms`,
      });
    }
    if (wanted('initial-sync-encrypted', 'replay-encrypted', 'push-encrypted'))
      await (await tsImport('./encryption-bench.ts', import.meta.url)).encryptionMetrics({ page, add, log });

    const deleted = await bench('cleanup');
    log('deleted databases:', deleted.join(', '));

    printTable(metrics);
    await writeFile(RESULTS, `${JSON.stringify({ metrics, ...(growth ? { growth } : {}) }, null, 2)}\n`);
    log(`wrote ${RESULTS} in ${round((performance.now() - started) / 1000, 1)} s`);
  } finally {
    clearTimeout(watchdog);
    if (page && !page.isClosed()) {
      // Whatever happened, leave no benchmark database behind.
      await page.evaluate(() => window.chronicleBench?.cleanup()).catch((error) => console.error('[bench] cleanup failed:', error.message));
    }
    await browser?.close().catch(() => undefined);
    if (profileDir) await rm(profileDir, { recursive: true, force: true }).catch(() => undefined);
    await vite?.server.close().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('[bench] crashed:', error);
    process.exit(1);
  },
);
