/**
 * A bare HTTP server that stands where Chronicle's would in server-push, for
 * bench/server-cpu-probe.ts: the floor under a push on this machine. It takes
 * the same requests (it answers the clients' /health too), reads each body
 * and stores it whole as one row over 4 pooled connections:
 *
 * - `raw`: nothing else, the HTTP hop and one INSERT alone;
 * - `parse`: JSON.parse first, as any server that checks what it stores must;
 * - `validate`: parse and validate the push as Chronicle's server does, with
 *   each event's JSON made again (push-decode.ts), on the event loop.
 *
 * Chronicle does the `validate` work (in a decoder thread), then judges the
 * push, stores its events as pages and keeps their ids, heads and ranges.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { parseJsonObject, validatePush } from '../src/server/http/push-decode.ts';

export const FLOOR_MODES = ['raw', 'parse', 'validate'] as const;
export type FloorMode = (typeof FLOOR_MODES)[number];

export const FLOOR_TABLE = 'CREATE TABLE floor_pushes (pos bigserial PRIMARY KEY, body text NOT NULL)';

const LIMITS = { maxEventsPerPush: 10_000, maxEventBytes: 1 << 20 };

export async function startFloorServer(databaseUrl: string, mode: FloorMode): Promise<{ url: string; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== 'POST') {
      response.end('{"status":"ok"}');
      return;
    }
    const parts: Buffer[] = [];
    request.on('data', (chunk: Buffer) => parts.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(parts);
      const text = body.toString('utf8');
      if (mode === 'parse') JSON.parse(text);
      if (mode === 'validate') validatePush(parseJsonObject(body), LIMITS);
      pool.query('INSERT INTO floor_pushes (body) VALUES ($1)', [text]).then(
        () => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{}');
        },
        (error: Error) => {
          response.writeHead(500);
          response.end(error.message);
        },
      );
    });
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}
