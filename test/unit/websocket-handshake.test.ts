import { describe, expect, it } from 'vitest';
import { asksForWebSocket, handshakeProblem } from '../../src/server/http/websocket-handshake.ts';

const sound = { upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

describe('the WebSocket opening handshake (RFC 6455, 4.2.1)', () => {
  it('only Upgrade: websocket, in any case, asks for a WebSocket', () => {
    expect(asksForWebSocket({ upgrade: 'WebSocket' })).toBe(true);
    expect(asksForWebSocket({ upgrade: ' websocket ' })).toBe(true);
    expect(asksForWebSocket({ upgrade: 'h2c' })).toBe(false);
    expect(asksForWebSocket({})).toBe(false);
  });

  it('a sound handshake has no problem; version 8 (the last draft, which ws speaks) too', () => {
    expect(handshakeProblem('GET', sound)).toBeUndefined();
    expect(handshakeProblem('GET', { ...sound, 'sec-websocket-version': '8' })).toBeUndefined();
  });

  it('another method is 405 allowing GET', () => {
    expect(handshakeProblem('POST', sound)).toMatchObject({ code: 'METHOD_NOT_ALLOWED', status: 405, details: { allow: ['GET'] } });
  });

  it.each([
    ['missing', undefined],
    ['not base64 of 16 bytes', 'short=='],
    ['17 bytes', 'dGhlIHNhbXBsZSBub25jZXg='],
  ])('a key %s is 400 naming the header', (_what, key) => {
    const headers = { ...sound, 'sec-websocket-key': key };
    expect(handshakeProblem('GET', headers)).toMatchObject({
      code: 'BAD_REQUEST',
      details: { reason: 'bad-websocket-handshake', header: 'sec-websocket-key' },
    });
  });

  it.each([['7'], ['14'], [undefined]])('version %s is 400 naming the header and the version spoken', (version) => {
    expect(handshakeProblem('GET', { ...sound, 'sec-websocket-version': version })).toMatchObject({
      code: 'BAD_REQUEST',
      details: { reason: 'bad-websocket-handshake', header: 'sec-websocket-version', supported: [13] },
    });
  });
});
