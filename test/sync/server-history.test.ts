import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChronicleDb } from '../../worker/db.ts';
import { logOf, openClient, startServer, type Client, type Harness } from './harness.ts';

/**
 * A client meets a server that no longer holds the history it synced: the
 * server was restored from an older backup (here: a second, fresh server the
 * client's requests are sent to instead). Nothing may be pushed to or pulled
 * from it until the history is back (worker/sync/server-history.ts).
 */

let original: Harness;
let restored: Harness;
beforeAll(async () => {
  [original, restored] = await Promise.all([startServer(), startServer()]);
});
afterAll(async () => {
  await Promise.all([original.close(), restored.close()]);
});

/** A fetch that sends the client's requests to whichever server `to.url` names (the client was configured with the original's). */
function switchable(to: { url: string }): typeof fetch {
  return (input, init) => fetch(String(input).replace(original.url, to.url), init);
}

/** What a server's log holds, read with plain HTTP as the protocol describes. */
async function serverLog(server: Harness, log: string): Promise<{ head: number; ids: string[] }> {
  const reply = await fetch(`${server.url}/v1/logs/${log}/pull?after=0&limit=1000`, { headers: { authorization: 'Bearer test-token' } });
  const body = (await reply.json()) as { head: number; events: { id: string }[] };
  return { head: body.head, ids: body.events.map((e) => e.id) };
}

const placed = (customerId: string) => ({ type: 'OrderPlaced' as const, data: { customerId } });
const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

describe('a server that lost the history a client synced', () => {
  it('with fewer events than the client holds: SYNC_SERVER_BEHIND, nothing pushed; sync resumes once the events are back', async () => {
    const log = 'history-behind';
    const target = { url: original.url };
    const a = await openClient(original.url, { log, fetch: switchable(target) });
    try {
      await a.append('behind-1', [placed('c1'), item('tea'), item('cup')]);
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ pending: 0, confirmedPosition: 3 });

      target.url = restored.url; // the server comes back from a backup taken before those events
      await a.append('behind-1', [item('pot')]);
      await expect(a.sync.syncNow()).rejects.toMatchObject({
        code: 'SYNC_SERVER_BEHIND',
        details: { serverHead: 0, confirmedPosition: 3 },
      });
      expect(await a.sync.status()).toMatchObject({
        state: 'error',
        pending: 1,
        confirmedPosition: 3,
        lastError: { code: 'SYNC_SERVER_BEHIND' },
      });
      expect(await serverLog(restored, log)).toEqual({ head: 0, ids: [] });

      target.url = original.url; // the right backup is restored
      await a.sync.syncNow();
      expect(await a.sync.status()).toMatchObject({ state: 'online', pending: 0, confirmedPosition: 4, lastError: null });
      expect((await serverLog(original, log)).head).toBe(4);
    } finally {
      await a.dispose();
    }
  });

  /**
   * Client `a` syncs three events to the original server, then `prepare` runs on it; meanwhile the restored
   * server takes five events of another client, so its head is past `a`'s position. Then `a` is pointed at it.
   */
  async function divergedSetup(log: string, prepare: (a: Client) => Promise<void> = async () => undefined) {
    const target = { url: original.url };
    const a = await openClient(original.url, { log, fetch: switchable(target) });
    const b = await openClient(restored.url, { log });
    await a.append(`${log}-a`, [placed('c1'), item('tea'), item('cup')]);
    await a.sync.syncNow();
    const synced = await logOf(a);
    await prepare(a);
    await b.append(`${log}-b`, [placed('c2'), item('a'), item('b'), item('c'), item('d')]);
    await b.sync.syncNow();
    const before = await serverLog(restored, log);
    expect(before.head).toBe(5);
    target.url = restored.url;
    return { a, b, synced, before, dispose: () => Promise.all([a.dispose(), b.dispose()]) };
  }

  it('with other events at the positions the client holds: SYNC_DIVERGED, nothing pushed or pulled', async () => {
    const { a, synced, before, dispose } = await divergedSetup('history-diverged');
    try {
      await a.append('history-diverged-a', [item('pot')]);
      const failure = a.sync.syncNow();
      await expect(failure).rejects.toMatchObject({ code: 'SYNC_DIVERGED', details: { position: 3, localId: synced[2]!.id } });
      await expect(failure).rejects.toMatchObject({ details: { serverId: before.ids[2] } });
      expect(await serverLog(restored, 'history-diverged')).toEqual(before);
      expect((await logOf(a)).filter((e) => e.position !== undefined)).toEqual(synced);
      expect(await a.sync.status()).toMatchObject({ pending: 1, confirmedPosition: 3, lastError: { code: 'SYNC_DIVERGED' } });
    } finally {
      await dispose();
    }
  });

  it('a store an older version synced (no id of its last event in its metadata) reads it from its page', async () => {
    const forgetHeadId = async (a: Client) => {
      const db = await openChronicleDb(a.name, { onGone: () => undefined });
      try {
        const meta = (await db.get('meta', 'client'))!;
        delete meta.confirmedHeadId;
        await db.put('meta', meta, 'client');
      } finally {
        db.close();
      }
    };
    const { a, synced, before, dispose } = await divergedSetup('history-older', forgetHeadId);
    try {
      await expect(a.sync.syncNow()).rejects.toMatchObject({
        code: 'SYNC_DIVERGED',
        details: { position: 3, localId: synced[2]!.id, serverId: before.ids[2] },
      });
    } finally {
      await dispose();
    }
  });

  it('a client whose compaction dropped the events it synced still tells the other history apart (SYNC_DIVERGED)', async () => {
    const compact = async (a: Client) => {
      await a.compact({ retention: { maxEvents: 0 } });
      expect((await a.info()).historyStartsAt).toBe(4); // every confirmed page is gone
    };
    const { a, before, dispose } = await divergedSetup('history-compacted', compact);
    try {
      await expect(a.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_DIVERGED', details: { position: 3, serverId: before.ids[2] } });
      expect(await serverLog(restored, 'history-compacted')).toEqual(before);
      expect((await a.info()).confirmedHead).toBe(3);
    } finally {
      await dispose();
    }
  });

  it('a client that synced the same history checks it every round and syncs on (the check pulls one event it holds)', async () => {
    const log = 'history-same';
    const pulls: string[] = [];
    const recording: typeof fetch = (input, init) => {
      if (String(input).includes('/pull')) pulls.push(new URL(String(input)).searchParams.get('after')!);
      return fetch(input, init);
    };
    const a = await openClient(original.url, { log, fetch: recording });
    const b = await openClient(original.url, { log });
    try {
      await a.append('same-a', [placed('c1'), item('tea')]);
      await a.sync.syncNow();
      await b.append('same-b', [placed('c2')]);
      await b.sync.syncNow();
      pulls.length = 0;
      await a.sync.syncNow();
      expect(pulls[0]).toBe('1'); // it holds positions 1-2: the round starts at 2 to see it again
      expect(await a.sync.status()).toMatchObject({ state: 'online', confirmedPosition: 3, lastError: null });
      expect((await logOf(a)).map((e) => e.position)).toEqual([1, 2, 3]);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
