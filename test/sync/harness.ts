import type { StoredEvent } from '../../src/core/event.ts';
import { WebSocket } from 'ws';
import { createSyncServer, createPgliteStore, silentLogger, type SyncServer } from '../../src/server/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import type { SyncOptions } from '../../src/client/sync.ts';
import { model } from '../fixtures/model.ts';
import type { AnyAggregateDefinition } from '../../src/core/aggregate.ts';
import type { AnyReactionDefinition } from '../../src/core/reaction.ts';

export interface Harness {
  url: string;
  server: SyncServer;
  close(): Promise<void>;
}

/** A sync server on its embedded (in-memory PGlite) store, on a free port. */
export async function startServer(options: Partial<Omit<Parameters<typeof createSyncServer>[0], 'store'>> = {}): Promise<Harness> {
  const store = await createPgliteStore();
  const server = createSyncServer({
    logger: silentLogger,
    ...options,
    store,
    auth: options.auth ?? { tokens: { 'test-token': { read: ['*'], write: ['*'] } } },
  });
  const address = await server.listen(0);
  return { url: address.url, server, close: () => server.close() };
}

export type Client = Awaited<ReturnType<typeof openClient>>;

/** An in-process store syncing with the server (each client has its own database and clientId). */
export function openClient(
  url: string,
  extra: Partial<SyncOptions> & {
    name?: string;
    aggregates?: readonly AnyAggregateDefinition[];
    reactions?: readonly AnyReactionDefinition[];
    noWebSocket?: true;
  } = {},
) {
  const { name, aggregates, reactions, noWebSocket, ...sync } = extra;
  return openTestStore({
    events: model.events,
    aggregates: aggregates ?? model.aggregates,
    worker: false,
    ...(name ? { name } : {}),
    ...(reactions ? { reactions } : {}),
    sync: {
      url,
      log: 'orders',
      token: 'test-token',
      live: false,
      pollIntervalMs: 60_000,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      ...(noWebSocket ? {} : { webSocket: (u: string) => new WebSocket(u) }),
      ...sync,
    },
  });
}

export interface LogLine {
  id: string;
  aggregateId: string;
  seq: number;
  position: number | undefined;
}

export async function logOf(client: Client): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const e of client.readLog()) out.push({ id: e.id, aggregateId: e.aggregateId, seq: e.seq, position: e.position });
  return out;
}

/** The events a sync server holds in `log`, as its pull gives them (the first 100), read with the harness's token. */
export async function serverEvents(url: string, log: string): Promise<StoredEvent[]> {
  const response = await fetch(`${url}/v1/logs/${log}/pull?after=0&limit=100`, { headers: { authorization: 'Bearer test-token' } });
  return ((await response.json()) as { events: StoredEvent[] }).events;
}

/** What a sync round of `client` failed with, or undefined when it succeeded. */
export const syncError = (client: Client): Promise<unknown> =>
  client.sync.syncNow().then(
    () => undefined,
    (error: unknown) => error,
  );
