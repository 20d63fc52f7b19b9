import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay of our own in front of PostgreSQL, to break the server's
 * database connections on demand the ways networks break:
 *
 * - `cut()`: every open connection is reset at once (both sides see RST), as
 *   when a database restarts or a firewall drops its state. New connections
 *   pass again right away.
 * - `blackhole()`: nothing passes any more, in either direction, and new
 *   connections are accepted but never reach the database: a network that
 *   silently drops packets. Only timeouts can notice it.
 * - `restore()`: traffic flows again; connections held during the blackhole
 *   are dropped (as a peer that timed out would be), new ones pass.
 * - `silence()`: the connections open now go quiet for good, without a FIN
 *   or a reset (a NAT or firewall that forgot them); new connections pass.
 * - `holdReplies()`: new connections reach the database, but what it sends
 *   them (its end included) is kept back until `releaseReplies()`, which
 *   hands each one all of it in a single write: replies that a slow network
 *   or a loaded machine delivers together, as one read, such as a new
 *   connection's ReadyForQuery and the FATAL of its backend terminated just
 *   after it.
 */
export interface TcpRelay {
  port: number;
  /** A connection string for `database` through the relay. */
  url(database: string): string;
  cut(): void;
  blackhole(): void;
  silence(): void;
  restore(): void;
  holdReplies(): void;
  /** Per connection whose replies are held: what the database sent it so far, and whether it ended it. */
  held(): { bytes: Buffer; ended: boolean }[];
  releaseReplies(): void;
  /** Connections relayed so far, and those open now. */
  stats(): { accepted: number; open: number };
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** What the database sent while replies are held (holdReplies), and whether it ended the connection. */
  held?: { chunks: Buffer[]; ended: boolean };
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const pairs = new Set<Pair>();
  let holding = false;
  let holdingReplies = false;
  let accepted = 0;

  const drop = (pair: Pair, reset: boolean): void => {
    pairs.delete(pair);
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  /** Stop moving bytes both ways: unpipe and stop reading. What the peers send stays in buffers. */
  const quiet = (pair: Pair): void => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  };

  const server: Server = createServer((client) => {
    accepted++;
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.on('error', () => drop(pair, false));
    client.on('close', () => drop(pair, false));
    if (holding) {
      client.pause(); // accepted, and then nothing: the database never hears of it
      return;
    }
    const upstream = connect(target);
    pair.upstream = upstream;
    client.pipe(upstream);
    if (holdingReplies) {
      const held: { chunks: Buffer[]; ended: boolean } = { chunks: [], ended: false };
      pair.held = held;
      upstream.on('data', (chunk: Buffer) => held.chunks.push(chunk));
      upstream.on('end', () => (held.ended = true));
    }
    upstream.on('error', () => (pair.held ? (pair.held.ended = true) : drop(pair, false)));
    upstream.on('close', () => (pair.held ? (pair.held.ended = true) : drop(pair, false)));
    if (!pair.held) upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    cut() {
      for (const pair of [...pairs]) drop(pair, true);
    },
    blackhole() {
      holding = true;
      for (const pair of pairs) quiet(pair);
    },
    silence() {
      for (const pair of pairs) quiet(pair);
    },
    restore() {
      holding = false;
      // Connections that lived through the blackhole are gone for good, as after a real outage that
      // outlasted the peers' timeouts; the server must notice and open new ones.
      for (const pair of [...pairs]) drop(pair, true);
    },
    holdReplies() {
      holdingReplies = true;
    },
    held: () => [...pairs].flatMap(({ held }) => (held ? [{ bytes: Buffer.concat(held.chunks), ended: held.ended }] : [])),
    releaseReplies() {
      holdingReplies = false;
      for (const pair of [...pairs]) {
        const { held, upstream } = pair;
        if (!held || !upstream) continue;
        delete pair.held;
        const data = Buffer.concat(held.chunks);
        if (held.ended) {
          // All of it in one write, then the end; the pair goes once the client's side has closed.
          pair.client.end(data);
          continue;
        }
        upstream.removeAllListeners('data');
        if (data.length > 0) pair.client.write(data);
        upstream.pipe(pair.client);
      }
    },
    stats: () => ({ accepted, open: pairs.size }),
    close() {
      for (const pair of [...pairs]) drop(pair, false);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
