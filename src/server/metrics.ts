import type * as PromClient from 'prom-client';
import type { ConfigError } from '../core/errors.ts';
import { CLIENT_GONE_STATUS } from './http/request-context.ts';
import { loadPeer, type PeerImporter } from './optional-peer.ts';
import type { StoreStats } from './store/types.ts';

/**
 * The server's metrics, served at GET /metrics in Prometheus' text format by
 * prom-client (an optional peer: without it /metrics answers 503 and says what
 * to install). Families, all prefixed `chronicle_`:
 *
 * | family | type | labels |
 * |---|---|---|
 * | chronicle_http_requests_total | counter | action, status (499: the client left before the reply, or did not read it: timeouts.replyMs) |
 * | chronicle_pushes_total | counter | result (accepted, refused), code |
 * | chronicle_push_events_total | counter | result (stored, duplicate, refused), code |
 * | chronicle_push_duration_seconds | histogram | result |
 * | chronicle_pulls_total | counter | result, code |
 * | chronicle_pull_duration_seconds | histogram | result |
 * | chronicle_live_sockets | gauge | |
 * | chronicle_live_listen_connected | gauge (1/0; only for stores with a LISTEN connection) | |
 * | chronicle_log_head | gauge | log (the first 1,000 logs seen; the highest head this process saw) |
 * | chronicle_db_pool_connections | gauge | state (total, idle, waiting, max) |
 * | chronicle_db_errors_total | counter | |
 * | chronicle_process_*, chronicle_nodejs_* | prom-client's default process metrics | |
 *
 * prom-client loads in the background (a dynamic import); what happens before
 * it is there is queued and replayed, so no request goes uncounted.
 */

export interface MetricsSources {
  liveSockets(): number;
  storeStats(): StoreStats | undefined;
}

export interface MetricsRecorder {
  /** A request finished: `action` is push, pull, fence, live, health, ready, metrics or other. */
  request(action: string, status: number, code: string | undefined, seconds: number, events: number): void;
  /** A push was stored (or acknowledged): how many events were new and how many duplicates. */
  pushStored(log: string, appended: number, duplicates: number, head: number): void;
  /** The head of a log, as a pull or push saw it (the gauge keeps the highest). */
  logHead(log: string, head: number): void;
  /** The text for GET /metrics, or the reason there is none. */
  render(): Promise<{ contentType: string; body: string } | { unavailable: string }>;
}

/** Logs whose head is exported; more would make the scrape unbounded. */
const MAX_LOGS = 1000;
/** Calls kept while prom-client loads. */
const MAX_QUEUED = 10_000;

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Families = ReturnType<typeof createFamilies>;

function createFamilies(client: typeof PromClient, sources: MetricsSources) {
  const registry = new client.Registry();
  const registers = [registry];
  client.collectDefaultMetrics({ register: registry, prefix: 'chronicle_' });
  let errorsSeen = 0;
  return {
    registry,
    requests: new client.Counter({
      name: 'chronicle_http_requests_total',
      help: 'HTTP requests by action and status',
      labelNames: ['action', 'status'],
      registers,
    }),
    pushes: new client.Counter({
      name: 'chronicle_pushes_total',
      help: 'Pushes by result and error code (OK when accepted)',
      labelNames: ['result', 'code'],
      registers,
    }),
    pushEvents: new client.Counter({
      name: 'chronicle_push_events_total',
      help: 'Pushed events: stored, acknowledged as duplicates, or refused (by the code of their push)',
      labelNames: ['result', 'code'],
      registers,
    }),
    pushSeconds: new client.Histogram({
      name: 'chronicle_push_duration_seconds',
      help: 'Push latency, request to reply',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    pulls: new client.Counter({
      name: 'chronicle_pulls_total',
      help: 'Pulls by result and error code',
      labelNames: ['result', 'code'],
      registers,
    }),
    pullSeconds: new client.Histogram({
      name: 'chronicle_pull_duration_seconds',
      help: 'Pull latency, request to reply',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    liveSockets: new client.Gauge({
      name: 'chronicle_live_sockets',
      help: 'Open WebSockets on the live channel',
      registers,
      collect() {
        this.set(sources.liveSockets());
      },
    }),
    ...listenGauge(client, sources, registers),
    logHead: new client.Gauge({
      name: 'chronicle_log_head',
      help: 'The highest position of a log, as seen by this process (its own pushes and pulls)',
      labelNames: ['log'],
      registers,
    }),
    pool: new client.Gauge({
      name: 'chronicle_db_pool_connections',
      help: 'Database connections of the pool: total open, idle, callers waiting, and the maximum',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = sources.storeStats()?.pool;
        if (!pool) return;
        this.set({ state: 'total' }, pool.total);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
        this.set({ state: 'max' }, pool.max);
      },
    }),
    dbErrors: new client.Counter({
      name: 'chronicle_db_errors_total',
      help: 'Database failures: lost connections, failed reconnects (the LISTEN connection included), bounded waits that ran out',
      registers,
      collect() {
        const errors = sources.storeStats()?.errors ?? 0;
        if (errors > errorsSeen) this.inc(errors - errorsSeen);
        errorsSeen = Math.max(errorsSeen, errors);
      },
    }),
    /** The highest head set per exported log. */
    knownLogs: new Map<string, number>(),
  };
}

/**
 * chronicle_live_listen_connected, for a store with LISTEN connections (a
 * store without one, PGlite, is one process: nothing to hear, no gauge): 1
 * while every one is up, 0 while one is down and reconnecting, when this
 * process's live sockets miss other processes' head moves.
 */
function listenGauge(client: typeof PromClient, sources: MetricsSources, registers: PromClient.Registry[]) {
  if (!sources.storeStats()?.listen) return {};
  const listenConnected = new client.Gauge({
    name: 'chronicle_live_listen_connected',
    help: "1 while this process's LISTEN connections (other processes' head moves) are all up, 0 while one is reconnecting",
    registers,
    collect() {
      const listen = sources.storeStats()?.listen;
      if (listen) this.set(listen.connected >= listen.total ? 1 : 0);
    },
  });
  return { listenConnected };
}

export function createMetrics(
  sources: MetricsSources,
  options: { importer?: PeerImporter<typeof PromClient | { default: typeof PromClient }>; onMissing?: (error: ConfigError) => void } = {},
): MetricsRecorder {
  let families: Families | undefined;
  let missing: string | undefined;
  let queue: ((f: Families) => void)[] | undefined = [];

  const run = (fn: (f: Families) => void): void => {
    if (families) fn(families);
    else if (queue && queue.length < MAX_QUEUED) queue.push(fn);
  };

  void loadPeer('prom-client', 'The /metrics endpoint', options.importer ?? (() => import('prom-client'))).then(
    (module) => {
      const client = ((module as { default?: typeof PromClient }).default ?? module) as typeof PromClient;
      families = createFamilies(client, sources);
      for (const fn of queue ?? []) fn(families);
      queue = undefined;
    },
    (error: unknown) => {
      queue = undefined;
      missing = error instanceof Error ? error.message : String(error);
      if ((error as { code?: unknown }).code === 'CONFIG') options.onMissing?.(error as ConfigError);
    },
  );

  return {
    request(action, status, code, seconds, events) {
      run((f) => {
        f.requests.inc({ action, status: String(status) });
        // The push and pull families count replies; a client that left before its reply got none.
        if (status === CLIENT_GONE_STATUS) return;
        const result = status < 400 ? 'accepted' : 'refused';
        if (action === 'push') {
          f.pushes.inc({ result, code: code ?? 'OK' });
          f.pushSeconds.observe({ result }, seconds);
          if (status >= 400 && events > 0) f.pushEvents.inc({ result: 'refused', code: code ?? 'ERROR' }, events);
        } else if (action === 'pull') {
          f.pulls.inc({ result, code: code ?? 'OK' });
          f.pullSeconds.observe({ result }, seconds);
        }
      });
    },
    pushStored(log, appended, duplicates, head) {
      run((f) => {
        if (appended > 0) f.pushEvents.inc({ result: 'stored', code: 'OK' }, appended);
        if (duplicates > 0) f.pushEvents.inc({ result: 'duplicate', code: 'OK' }, duplicates);
      });
      this.logHead(log, head);
    },
    logHead(log, head) {
      run((f) => {
        const known = f.knownLogs.get(log);
        // A log at head 0 holds nothing (a pull of a log no one wrote, a typo): it would only take a series.
        if (known === undefined && (head <= 0 || f.knownLogs.size >= MAX_LOGS)) return;
        // Replies finish in any order: a pull that read an older snapshot may finish after a push that
        // moved the head. A log's head never goes down (a move to another database continues its
        // positions, purge-moved deletes only the copy left behind, and no operation deletes a log), so a
        // lower report is stale and the gauge keeps the highest. (A database restored from an older
        // backup is the exception: the gauge shows the old head until the process restarts.)
        if (known !== undefined && head <= known) return;
        f.knownLogs.set(log, head);
        f.logHead.set({ log }, head);
      });
    },
    async render() {
      if (families) return { contentType: families.registry.contentType, body: await families.registry.metrics() };
      return { unavailable: missing ?? 'metrics are still loading' };
    },
  };
}

/** A recorder that records nothing (metrics: false). */
export const noMetrics: MetricsRecorder = {
  request() {},
  pushStored() {},
  logHead() {},
  render: () => Promise.resolve({ unavailable: 'metrics are turned off (metrics: false)' }),
};
