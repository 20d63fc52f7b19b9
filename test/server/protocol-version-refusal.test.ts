import { describe, expect, it } from 'vitest';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../../src/core/protocol.ts';
import { errorOf, freshLog, httpJson, pgliteServerForFile, type HttpReply } from './helpers.ts';

/**
 * An unsupported protocolVersion is refused with 400 UNSUPPORTED_PROTOCOL
 * whatever it holds (docs/protocol.md, Push errors), in a reply of a few
 * hundred bytes. The refusal used to serialise the value it repeats: one
 * nested thousands of levels deep overflowed the stack (500 INTERNAL, on the
 * event loop and in the push decoder's threads alike), and a string of 4 MiB
 * came back twice, in the message and in details.received.
 */

const served = pgliteServerForFile();

/** An array nested `levels` deep: JSON.parse takes it, JSON.stringify of it overflows the stack. */
const nestedArray = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
const nestedObject = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

function post(log: string, action: 'push' | 'fence', body: string): Promise<HttpReply<unknown>> {
  return httpJson(`${served.url}/v1/logs/${log}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

/** The reply's size as JSON: bounded, whatever the request held. */
const replySize = (reply: HttpReply<unknown>): number => JSON.stringify(reply.body).length;

describe('an unsupported protocolVersion', () => {
  // 5,000 levels: a body under the decoder threads' 32 KiB, decoded on the event loop. 20,000: one over it.
  const versions: [string, string, string][] = [
    ['an array 5,000 levels deep', nestedArray(5_000), 'array'],
    ['an array 20,000 levels deep', nestedArray(20_000), 'array'],
    ['an object 5,000 levels deep', nestedObject(5_000), 'object'],
  ];

  it.each(versions)('%s is 400 UNSUPPORTED_PROTOCOL naming its type, on push and on fence', async (_what, version, type) => {
    const log = freshLog('pv');
    const bodies = {
      push: `{"protocolVersion":${version},"clientId":"c","from":1,"to":1,"events":[]}`,
      fence: `{"protocolVersion":${version},"clientId":"c","epoch":1}`,
    };
    for (const action of ['push', 'fence'] as const) {
      const reply = await post(log, action, bodies[action]);
      expect(errorOf(reply), action).toMatchObject({
        status: 400,
        code: 'UNSUPPORTED_PROTOCOL',
        details: { received: null, receivedType: type },
      });
      expect(errorOf(reply).message).toContain(`the request says an ${type}`);
      expect(replySize(reply)).toBeLessThan(500);
    }
  });

  it('a string of 4 MiB is named by its start and length only, on push and on fence', async () => {
    const log = freshLog('pv');
    const text = 'x'.repeat(4 * 1024 * 1024 - 200);
    for (const action of ['push', 'fence'] as const) {
      const reply = await post(log, action, JSON.stringify({ protocolVersion: text, clientId: 'c', epoch: 1 }));
      const error = errorOf(reply);
      expect(error, action).toMatchObject({
        status: 400,
        code: 'UNSUPPORTED_PROTOCOL',
        details: { received: null, receivedType: 'string' },
      });
      expect(error.message).toContain(`"${'x'.repeat(100)}…" (${text.length} characters)`);
      expect(replySize(reply)).toBeLessThan(500);
    }
  });

  it('a number is repeated as sent; a missing one is named as such', async () => {
    const log = freshLog('pv');
    const three = errorOf(await post(log, 'push', '{"protocolVersion":3,"clientId":"c","from":1,"to":1,"events":[]}'));
    expect(three).toMatchObject({
      status: 400,
      details: { supported: [...SUPPORTED_PROTOCOL_VERSIONS], received: 3, receivedType: 'number' },
    });
    expect(three.message).toContain('the request says 3');
    const none = errorOf(await post(log, 'fence', '{"clientId":"c","epoch":1}'));
    expect(none).toMatchObject({ status: 400, details: { received: null, receivedType: 'missing' } });
    expect(none.message).toContain('the request says nothing');
  });
});

describe('a schema refusal that would repeat a client key', () => {
  it('an unknown key of 1 MiB in a fence is named by its start only', async () => {
    const key = 'k'.repeat(1024 * 1024);
    const reply = await post(freshLog('pv'), 'fence', JSON.stringify({ protocolVersion: 2, clientId: 'c', epoch: 1, [key]: 1 }));
    expect(errorOf(reply)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(replySize(reply)).toBeLessThan(1_000);
  });
});
