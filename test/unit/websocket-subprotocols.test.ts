import { describe, expect, it } from 'vitest';
import { handshakeProblem, parseSubprotocols } from '../../src/server/http/websocket-handshake.ts';

const sound = { upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

describe('Sec-WebSocket-Protocol, parsed as ws parses it', () => {
  it.each([
    ['chat', ['chat']],
    ['chat,superchat', ['chat', 'superchat']],
    ['chat , superchat', ['chat', 'superchat']],
    ['chat,\tsuperchat', ['chat', 'superchat']],
    ["a!#$%&'*+-.^_`|~9", ["a!#$%&'*+-.^_`|~9"]],
    // Subprotocol names are case-sensitive (RFC 6455, 11.3.4): these are two.
    ['Chat, chat', ['Chat', 'chat']],
  ])('%j lists %j', (header, protocols) => {
    expect(parseSubprotocols(header)).toEqual(protocols);
  });

  it.each([
    ['', 'an empty header'],
    [',', 'an empty member'],
    ['a,', 'an empty last member'],
    [',a', 'an empty first member'],
    ['a,,b', 'an empty member between two'],
    ['a b', 'a space inside a member'],
    ['a, a', 'a member twice'],
    ['a,b, a', 'a member twice, apart'],
    [' a', 'whitespace before the first member'],
    ['a ', 'whitespace after the last member'],
    ['a;b', 'a separator that is no token character'],
    ['a/b', 'a slash'],
    ['"a"', 'a quoted string'],
    ['é', 'a character outside ASCII'],
  ])('%j is malformed (%s)', (header) => {
    expect(parseSubprotocols(header)).toBeUndefined();
  });

  it('a malformed header is 400 bad-websocket-handshake naming it; a sound one or none is no problem', () => {
    expect(handshakeProblem('GET', { ...sound, 'sec-websocket-protocol': 'a b' })).toMatchObject({
      code: 'BAD_REQUEST',
      details: { reason: 'bad-websocket-handshake', header: 'sec-websocket-protocol' },
    });
    expect(handshakeProblem('GET', { ...sound, 'sec-websocket-protocol': 'chat, superchat' })).toBeUndefined();
    expect(handshakeProblem('GET', sound)).toBeUndefined();
  });

  it('a long bad version is repeated by its start only', () => {
    const problem = handshakeProblem('GET', { ...sound, 'sec-websocket-version': '9'.repeat(30_000) });
    expect(problem?.details).toMatchObject({ header: 'sec-websocket-version' });
    expect(problem?.message.length).toBeLessThan(200);
  });
});
