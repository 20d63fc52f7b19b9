// A store syncs one log (README, Sync). Reopened with another `sync.log` (a tenant switch that kept the store's
// name), it pushed the events it had appended for the first log into the second one, another tenant's; and a
// store that had synced read the second log's history against the first's (SYNC_SERVER_BEHIND, "the server
// lost events"). The store now keeps the log of its first sync and refuses another one with a ConfigError at
// openStore, before anything is sent; nothing of either log changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { deleteStore, openStore } from '../../src/client/index.ts';
import { deleteTestDatabase } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { httpPull, okPull } from '../server/helpers.ts';
import { startServer, type Harness } from './harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

function open(name: string, log: string | undefined) {
  return openStore({
    ...model,
    name,
    worker: false,
    sync: {
      url: harness.url,
      ...(log === undefined ? {} : { log }),
      token: 'test-token',
      live: false,
      pollIntervalMs: 60_000,
      webSocket: (u: string) => new WebSocket(u),
    },
  });
}

async function serverCount(log: string): Promise<number> {
  return okPull(await httpPull(harness.url, log, { after: 0, limit: 100 }, 'test-token')).events.length;
}

describe('a store bound to the log it syncs', () => {
  it('refuses another log at open, before anything is pushed: offline edits stay with their log', async () => {
    const name = `binding-offline-${Date.now().toString(36)}`;
    const first = `tenant1-${Date.now().toString(36)}`;
    const second = `tenant2-${Date.now().toString(36)}`;
    try {
      const store = await open(name, first);
      await store.sync.pause();
      await store.append('order-1', [item('tenant-1-secret')]);
      await store.close();

      const error = await open(name, second).then(
        (opened) => opened.close().then(() => undefined),
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'CONFIG', details: { log: second, boundLog: first } });
      expect(await serverCount(second)).toBe(0);

      // With its own log it opens, and its edit reaches that log.
      const again = await open(name, first);
      await again.sync.resume();
      await again.sync.syncNow();
      expect(await again.sync.status()).toMatchObject({ pending: 0 });
      await again.close();
      expect(await serverCount(first)).toBe(1);
      expect(await serverCount(second)).toBe(0);
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('refuses another log after syncing too, and the default log counts as one ("default")', async () => {
    const name = `binding-synced-${Date.now().toString(36)}`;
    const other = `other-${Date.now().toString(36)}`;
    try {
      const store = await open(name, undefined);
      await store.append('order-1', [item('a')]);
      await store.sync.syncNow();
      await store.close();
      await expect(open(name, other)).rejects.toMatchObject({ code: 'CONFIG', details: { log: other, boundLog: 'default' } });
      const reopened = await open(name, 'default');
      expect(await reopened.sync.status()).toMatchObject({ pending: 0 });
      await reopened.close();
    } finally {
      await deleteTestDatabase(name);
    }
  });

  it('a store that never synced may start with any log; after deleteStore the name is free for another', async () => {
    const name = `binding-fresh-${Date.now().toString(36)}`;
    const first = `fresh1-${Date.now().toString(36)}`;
    const second = `fresh2-${Date.now().toString(36)}`;
    try {
      const local = await openStore({ ...model, name, worker: false });
      await local.append('order-1', [item('local')]);
      await local.close();
      const store = await open(name, first);
      await store.sync.syncNow();
      await store.close();
      await deleteStore(name);
      const renewed = await open(name, second);
      await renewed.append('order-2', [item('second')]);
      await renewed.sync.syncNow();
      await renewed.close();
      expect(await serverCount(first)).toBe(1);
      expect(await serverCount(second)).toBe(1);
    } finally {
      await deleteTestDatabase(name);
    }
  });
});
