// A sync server that answers wrongly (broken, compromised, or something in between) must not get the client
// to send its events elsewhere, to store what the protocol rules out, or to hold close() for a minute: each
// case fails the round with a typed error, leaves the local log as it was, and lets the store close at once.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { collect } from '../engine/modes.ts';
import { openClient } from './harness.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const servers: { close(): void; closeAllConnections(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A server on a loopback port that answers every request with `handler`; its URL and the requests it saw. */
async function fakeServer(handler: Handler): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    handler(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe('a hostile sync server', () => {
  it('redirecting a push elsewhere gets nothing sent there: HTTP_307, the event still pending', async () => {
    const elsewhere = await fakeServer((_request, response) => json(response, 200, { applied: 1 }));
    const server = await fakeServer((request, response) => {
      if (request.url?.includes('/pull')) return json(response, 200, { events: [], head: 0, hasMore: false });
      response.writeHead(307, { location: `${elsewhere.url}/v1/logs/orders/push` });
      response.end();
    });
    const client = await openClient(server.url);
    try {
      await client.append('order-1', [item('a')]);
      await expect(client.sync.syncNow()).rejects.toMatchObject({ code: 'HTTP_307' });
      expect(elsewhere.seen).toEqual([]);
      expect(await client.sync.status()).toMatchObject({ pending: 1 });
      expect(await client.sync.rejected()).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('a pull page out of order (past its head, positions skipping, an id twice) is SYNC_PROTOCOL and stores nothing', async () => {
    const event = (position: number, id = `srv-${position}`) => ({
      id,
      aggregateId: `o${position}`,
      aggregateType: 'Order',
      seq: 1,
      type: 'OrderPlaced',
      version: 1,
      data: { customerId: 'c' },
      meta: { occurredAt: 1, clientId: 'other', clientSeq: position },
      position,
    });
    const pages = [
      { events: [event(1), event(2), event(3)], head: 1, hasMore: false },
      { events: [event(1), event(3)], head: 3, hasMore: false },
      { events: [event(1), event(2, 'srv-1')], head: 2, hasMore: false },
    ];
    for (const page of pages) {
      const server = await fakeServer((_request, response) => json(response, 200, page));
      const client = await openClient(server.url);
      try {
        await expect(client.sync.syncNow()).rejects.toMatchObject({
          code: 'SYNC_PROTOCOL',
          message: expect.stringContaining('pull page out of order'),
        });
        expect(await collect(client.readLog())).toEqual([]);
      } finally {
        await client.dispose();
      }
    }
  });

  it('an event served again at a later position (next page, or a later round) is SYNC_PROTOCOL and stored once', async () => {
    const event = (position: number, id: string, aggregateId: string, seq: number) => ({
      id,
      aggregateId,
      aggregateType: 'Order',
      seq,
      type: 'ItemAdded',
      version: 2,
      data: { sku: 'a', qty: 1, price: 100 },
      meta: { occurredAt: 1, clientId: 'other', clientSeq: position },
      position,
    });
    const first = event(1, 'srv-1', 'o1', 1);
    // What the server serves after a position: the next round starts one early (after = 0) to check its history.
    let pages: Record<number, unknown> = {
      0: { events: [first], head: 2, hasMore: true },
      1: { events: [{ ...first, position: 2 }], head: 2, hasMore: false },
    };
    const server = await fakeServer((request, response) => {
      const after = Number(new URL(request.url ?? '', 'http://x').searchParams.get('after'));
      json(response, 200, pages[after] ?? { events: [], head: 2, hasMore: false });
    });
    const client = await openClient(server.url);
    try {
      await expect(client.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PROTOCOL', message: expect.stringContaining('repeats') });
      expect((await collect(client.readLog())).map((e) => e.id)).toEqual(['srv-1']);
      // A later round: the server's next event is another one at o1's seq 1 (new id, so no page holds an id twice).
      pages = { 0: { events: [first, event(2, 'srv-2', 'o1', 1)], head: 2, hasMore: false } };
      await expect(client.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
      // An honest next event is stored.
      pages = { 0: { events: [first, event(2, 'srv-2', 'o1', 2)], head: 2, hasMore: false } };
      await client.sync.syncNow();
      expect((await collect(client.readLog())).map((e) => [e.id, e.seq])).toEqual([
        ['srv-1', 1],
        ['srv-2', 2],
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('a reply that trickles does not hold close(): the request is ended with the sync', async () => {
    let endedByClient = false;
    const server = await fakeServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"events": [');
      // Never ends: one byte now and then, as a server (or a proxy) that stalls mid-reply.
      const drip = setInterval(() => response.write(' '), 200);
      response.on('close', () => {
        clearInterval(drip);
        endedByClient = !response.writableEnded;
      });
    });
    const client = await openClient(server.url);
    const round = client.sync.syncNow().catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // close() waited for the request's one-minute timeout before (past this test's own): now it ends the request.
    await client.dispose();
    await expect.poll(() => endedByClient).toBe(true);
    expect(await round).toMatchObject({ code: expect.stringMatching(/^(OFFLINE|SYNC_STOPPED)$/) });
  }, 20_000);
});
