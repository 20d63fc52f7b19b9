import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freshLog, httpPull, okPull, pgliteServerForFile, TestClient } from './helpers.ts';

/**
 * `Expect: 100-continue`: the client sends its body only once told to go on.
 * Node told every such request to go on at once, before any check, so a
 * caller without a token was invited to send its 4 MiB. The server now says
 * "100 Continue" when it starts to read the body: after authentication, and
 * after the declared Content-Length passed the limit.
 */
const served = pgliteServerForFile({ auth: { tokens: { good: { id: 'app', read: ['*'], write: ['*'] } } } });

interface Exchange {
  status: number;
  /** Whether the server sent 100 Continue before its final status. */
  continued: boolean;
  /** Whether the body was sent (only after a 100). */
  sent: boolean;
  text: string;
}

/** A push that waits for 100 Continue before it sends `body`, as curl does for large bodies. */
function pushExpectingContinue(log: string, body: string, headers: Record<string, string>): Promise<Exchange> {
  const url = new URL(`${served.url}/v1/logs/${log}/push`);
  return new Promise((resolve, reject) => {
    const exchange = { status: 0, continued: false, sent: false, text: '' };
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          expect: '100-continue',
          ...headers,
        },
      },
      (res) => {
        exchange.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (exchange.text += chunk));
        res.on('end', () => {
          // A refused request never sends its body: the request is ended without it.
          if (!exchange.sent) req.destroy();
          resolve(exchange);
        });
      },
    );
    req.on('continue', () => {
      exchange.continued = true;
      exchange.sent = true;
      req.end(body);
    });
    req.on('error', (error) => (exchange.status ? resolve(exchange) : reject(error)));
    req.flushHeaders();
  });
}

describe('a push that expects 100-continue', () => {
  const body = JSON.stringify(new TestClient('c1').next(['o1']));

  it('without a token gets its 401 without a 100 Continue, and sends no body', async () => {
    const exchange = await pushExpectingContinue(freshLog('continue'), body, {});
    expect(exchange).toMatchObject({ status: 401, continued: false, sent: false });
    expect(JSON.parse(exchange.text)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('over the body limit by its Content-Length gets 413 without a 100 Continue', async () => {
    const exchange = await pushExpectingContinue(freshLog('continue'), 'x'.repeat(5 * 1024 * 1024), { authorization: 'Bearer good' });
    expect(exchange).toMatchObject({ status: 413, continued: false, sent: false });
  });

  it('with a token is told to go on, sends its body and is stored', async () => {
    const log = freshLog('continue');
    const exchange = await pushExpectingContinue(log, body, { authorization: 'Bearer good' });
    expect(exchange).toMatchObject({ status: 200, continued: true, sent: true });
    expect(okPull(await httpPull(served.url, log, { after: 0, clientId: 'c1' }, 'good')).events).toHaveLength(1);
  });
});
