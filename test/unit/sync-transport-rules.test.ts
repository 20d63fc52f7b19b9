import { describe, expect, it } from 'vitest';
import { pageOrderProblem, retryAfterMs } from '../../worker/sync/transport.ts';

/** What the sync client takes from a server's reply (worker/sync/transport.ts), without a server. */
describe('Retry-After', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  it('is seconds, or an HTTP date in the future (RFC 9110); anything else is no wait', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Mon, 07 Dec 2026 12:00:05 GMT', now)).toBe(5000);
    for (const ignored of [null, '', '0', '-5', 'soon', 'Mon, 07 Dec 2026 11:59:00 GMT'])
      expect(retryAfterMs(ignored, now)).toBeUndefined();
  });
});

describe('a pull page', () => {
  const page = (...positions: number[]) => positions.map((position) => ({ position, id: `e${position}` }));
  it('holds positions one after another from after + 1, none past its head, no id twice', () => {
    expect(pageOrderProblem(page(5, 6, 7), 4, 7)).toBeUndefined();
    expect(pageOrderProblem([], 4, 4)).toBeUndefined();
    expect(pageOrderProblem(page(6, 7), 4, 7)).toMatch(/event 0 is at position 6, where 5 comes/);
    expect(pageOrderProblem(page(5, 5), 4, 7)).toMatch(/event 1 is at position 5, where 6 comes/);
    expect(pageOrderProblem(page(5, 6), 4, 5)).toMatch(/past the page's head 5/);
    expect(
      pageOrderProblem(
        [
          { position: 5, id: 'x' },
          { position: 6, id: 'x' },
        ],
        4,
        6,
      ),
    ).toMatch(/event id x comes twice/);
    expect(pageOrderProblem([{ position: '5', id: 'x' }], 4, 6)).toMatch(/event 0 is at position 5, where 5 comes/);
  });
});
