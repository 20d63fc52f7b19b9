/**
 * server-push's HTTP clients, in a worker thread of run.mjs's process: the
 * clients are other programs than the server, so they do not share its event
 * loop (they share the machine's cores). Plain JS: no loader needed.
 *
 * in:  { url, log, wholeReplies, clients: [{ clientId, token, bodies: Uint8Array[] }] }, then 'go' for each run
 * out: 'ready' after the connections are warm; { ms } when every push of a run was answered 200;
 *      { error } otherwise
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, log, clients, wholeReplies } = workerData;
const target = new URL(`${url}/v1/logs/${encodeURIComponent(log)}/push`);
const agents = clients.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));

function post(agent, body, token) {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'POST',
        agent,
        // As Chronicle's sync client sends them (worker/sync/transport.ts): it asks for replies without
        // positions, since it confirms its events by pulling them back (unless told to compare: wholeReplies).
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          authorization: `Bearer ${token}`,
          ...(wholeReplies ? {} : { prefer: 'return=minimal' }),
        },
      },
      (res) => {
        const parts = [];
        res.on('data', (chunk) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function health(agent) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`${url}/health`), { agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function run() {
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      for (const body of client.bodies) {
        const reply = await post(agents[i], body, client.token);
        if (reply.status !== 200) throw new Error(`push of ${client.clientId} failed: ${reply.status} ${reply.body.slice(0, 300)}`);
      }
    }),
  );
  return performance.now() - t0;
}

parentPort.on('message', (message) => {
  if (message !== 'go') return;
  run().then(
    (ms) => parentPort.postMessage({ ms }),
    (error) => parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) }),
  );
});

// Warm the connections (and nothing else) before any clock starts.
Promise.all(agents.map(health)).then(
  () => parentPort.postMessage('ready'),
  (error) => parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
