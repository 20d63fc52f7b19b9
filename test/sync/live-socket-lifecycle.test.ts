import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore } from '../../src/testing/index.ts';
import { model } from '../fixtures/model.ts';
import { startServer, type Harness } from './harness.ts';

/**
 * The live channel never makes a socket it will not close. Opening one waits
 * for a token first (a refresh; in worker mode a round trip to the page), and
 * meanwhile the store may close, or the end of a sync round may ask for the
 * channel again. Before, the open went on regardless: a socket made after
 * close() that nothing closed (the server kept a subscriber for a client that
 * was gone; a Node process did not exit), or two sockets of which only the
 * second was ever closed.
 */

/** A client whose next token waits until the test gives it. */
function openLiveClient(url: string) {
  const sockets: WebSocket[] = [];
  let gate: { asked: () => void; given: Promise<void> } | undefined;
  const store = openTestStore({
    ...model,
    worker: false,
    sync: {
      url,
      log: 'live-lifecycle',
      live: true,
      pollIntervalMs: 60_000,
      initialBackoffMs: 20,
      maxBackoffMs: 40,
      getToken: async () => {
        const held = gate;
        gate = undefined;
        if (held) {
          held.asked();
          await held.given;
        }
        return 'test-token';
      },
      webSocket: (u: string) => {
        const ws = new WebSocket(u);
        sockets.push(ws);
        return ws;
      },
    },
  });
  /** Holds the next token: resolves `asked` when it is asked for; `give` lets it go. */
  const holdNextToken = () => {
    let give!: () => void;
    let asked!: () => void;
    const given = new Promise<void>((resolve) => (give = resolve));
    const askedFor = new Promise<void>((resolve) => (asked = resolve));
    gate = { asked, given };
    return { askedFor, give };
  };
  return { store, sockets, holdNextToken };
}

const notClosed = (sockets: WebSocket[]) => sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED).length;
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('the live channel opens no socket it does not close', () => {
  let server: Harness;
  beforeAll(async () => {
    server = await startServer({ limits: { rateLimit: false } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('a reconnect still waiting for its token when the store closes opens nothing', async () => {
    const client = openLiveClient(server.url);
    const store = await client.store;
    await expect.poll(() => client.sockets.filter((ws) => ws.readyState === WebSocket.OPEN)).toHaveLength(1);
    const token = client.holdNextToken();
    client.sockets[0]!.close(); // the connection drops: the follower reconnects after its backoff
    await token.askedFor;
    await store.dispose();
    token.give();
    await nextTask();
    await expect.poll(() => notClosed(client.sockets)).toBe(0);
    expect(client.sockets).toHaveLength(1);
  });

  it('a second open while the first waits for its token makes no second socket', async () => {
    const client = openLiveClient(server.url);
    const store = await client.store;
    await expect.poll(() => client.sockets.filter((ws) => ws.readyState === WebSocket.OPEN)).toHaveLength(1);
    const token = client.holdNextToken();
    client.sockets[0]!.close();
    await token.askedFor;
    // A round ends while the channel is down: it asks for the channel again.
    await store.sync.syncNow();
    token.give();
    await expect.poll(() => client.sockets.filter((ws) => ws.readyState === WebSocket.OPEN)).toHaveLength(1);
    expect(client.sockets).toHaveLength(2);
    await store.dispose();
    await expect.poll(() => notClosed(client.sockets)).toBe(0);
  });
});
