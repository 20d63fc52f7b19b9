import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';

/**
 * HTTP requests sent exactly as written: fetch (and URL) normalise paths
 * ("/a/../b" becomes "/b") and refuse odd headers, which is what the hostile
 * tests must not have done for them.
 */

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** One request through node:http with the path exactly as given. */
export function rawRequest(
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer | undefined },
): Promise<RawReply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port: Number(port), method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes on a new TCP connection and reads until the server closes it (or 5 s pass); returns the parsed reply. */
export function rawExchange(base: string, bytes: string | Buffer): Promise<RawReply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      const head = split < 0 ? all : all.slice(0, split);
      const text = split < 0 ? '' : all.slice(split + 4);
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, text, json: parse(text) });
    });
    socket.write(bytes);
  });
}

/**
 * Writes each part on one raw connection, `afterMs` after the one before it
 * (a slow or pipelined client), and returns everything the server sent until
 * it closed the connection, or until `waitMs`.
 */
export function converse(base: string, parts: { text: string; afterMs: number }[], waitMs: number): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    void (async () => {
      for (const part of parts) {
        await new Promise((r) => setTimeout(r, part.afterMs));
        if (socket.destroyed) return;
        socket.write(part.text);
      }
    })();
  });
}

/** A connection to the server that the test writes raw requests on (pipelined, reset, left unread). */
export async function openRaw(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** A pull of the whole of `log`, as raw HTTP/1.1 with the request id `id` (for pipelining several in one write). */
export const pull = (log: string, id: string): string =>
  `GET /v1/logs/${log}/pull?after=0&limit=5000 HTTP/1.1\r\nHost: x\r\nx-request-id: ${id}\r\n\r\n`;

/** A push of `body` to `log`, as raw HTTP/1.1 with the request id `id`. */
export function push(log: string, id: string, body: string): string {
  return (
    `POST /v1/logs/${log}/push HTTP/1.1\r\nHost: x\r\nx-request-id: ${id}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
