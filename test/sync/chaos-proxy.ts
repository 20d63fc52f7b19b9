import http from 'node:http';

export interface ChaosProxy {
  url: string;
  /** How many requests the proxy sent to the server twice, and how many of those copies arrived late. */
  stats: { duplicated: number; delayed: number };
  close(): Promise<void>;
}

async function forward(target: URL, method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer) {
  const response = await fetch(new URL(path, target), {
    method,
    headers: Object.fromEntries(
      Object.entries(headers).filter(([k, v]) => typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)),
    ) as Record<string, string>,
    body: method === 'GET' || method === 'HEAD' ? null : new Uint8Array(body),
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/**
 * An HTTP proxy between a client and the sync server that sends every push
 * twice: once at once, and once more after the client's NEXT request, so the
 * server sees duplicated and reordered pushes.
 */
export async function startChaosProxy(target: string): Promise<ChaosProxy> {
  const base = new URL(target);
  const stats = { duplicated: 0, delayed: 0 };
  let held: (() => Promise<unknown>) | undefined;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const send = () => forward(base, request.method ?? 'GET', request.url ?? '/', request.headers, body);
        try {
          const late = held;
          held = undefined;
          const answer = await send();
          if (request.url?.includes('/push')) {
            stats.duplicated++;
            await send(); // an immediate duplicate
            held = send; // and a late one, after the next request
          }
          response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          response.end(answer.body);
          if (late) {
            stats.delayed++;
            await late();
          }
        } catch (error) {
          response.writeHead(502);
          response.end(String(error));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
