import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { bearerTokens, parseTokenMap } from '../../src/server/auth.ts';

/** The built-in bearer tokens (src/server/auth.ts): any string may be a token, also one spelled as an object's member. */
const asking = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, url: '/v1/logs/shop/pull' }) as IncomingMessage;

describe('token map', () => {
  it('keeps a token spelled "__proto__", "constructor" or "toString" as an entry, and lets its holder in', async () => {
    // As a tokens file gives them: JSON.parse makes "__proto__" an own key, which a plain object's assignment would
    // turn into its prototype, dropping the token.
    const file = JSON.parse(
      '{"__proto__": {"id": "p", "read": ["shop"]}, "constructor": {"id": "c", "read": "*"}, "toString": {"id": "s", "write": ["shop"]}}',
    ) as unknown;
    const map = parseTokenMap(file);
    expect(Object.keys(map).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.hasOwn(map, '__proto__') && map['__proto__']).toEqual({ id: 'p', read: ['shop'], write: [] });
    const authenticate = bearerTokens(map);
    expect(await authenticate(asking('__proto__'))).toEqual({ id: 'p', read: ['shop'], write: [] });
    expect(await authenticate(asking('constructor'))).toEqual({ id: 'c', read: '*', write: [] });
    // A token not in the map is refused, also one named as a member every object has.
    await expect(Promise.resolve().then(() => authenticate(asking('hasOwnProperty')))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
