// A reaction handler may throw anything (JavaScript lets it): an error body parsed into Object.create(null),
// an object whose toString throws, an Error whose message getter throws, a revoked proxy. The README's
// promise holds for all of them: retried with backoff, `ctx.attempt` counting, parked after maxAttempts, the
// reaction moving on past it; a retry of the parked event that fails the same way leaves it parked and
// skippable. Before, describing such a value threw inside the runner's catch: the try was never counted,
// the handler ran again and again (attempt 1 each time) and every later event waited.
import { describe, expect, it } from 'vitest';
import { defineReaction } from '../../src/core/reaction.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model } from '../fixtures/model.ts';
import { eventually, modes } from './modes.ts';

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 10 } });

const throwables: [string, () => unknown][] = [
  ['a null-prototype object', () => Object.assign(Object.create(null) as object, { code: 'card_declined' })],
  [
    'an object whose toString throws',
    () => ({
      toString() {
        throw new Error('no text');
      },
    }),
  ],
  [
    'an Error whose message getter throws',
    () => {
      const error = new Error('declined');
      Object.defineProperty(error, 'message', {
        get() {
          throw new Error('no message');
        },
      });
      return error;
    },
  ],
  [
    'a revoked proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  ],
];

describe.each(modes)('a reaction handler that throws a value without text ($mode)', ({ worker }) => {
  it.each(throwables)(
    '%s: counted, parked after maxAttempts, the next event delivered; a failed retry leaves it skippable',
    async (_kind, make) => {
      const attempts = new Map<string, number[]>();
      let failRetries = true;
      const reaction = defineReaction({
        name: 'charge',
        events: [ItemAdded],
        maxAttempts: 3,
        backoff: { initialMs: 1, maxMs: 2 },
        handlers: {
          ItemAdded: async (event, ctx) => {
            attempts.set(event.data.sku, [...(attempts.get(event.data.sku) ?? []), ctx.attempt]);
            if (event.data.sku === 'bad' && (ctx.attempt <= 3 || failRetries)) throw make();
          },
        },
      });
      const store = await openTestStore({ ...model, worker, reactions: [reaction] });
      try {
        const badId = (await store.append('o1', [item('bad')])).events[0]!.id;
        await store.append('o2', [item('next')]);
        await eventually(async () => expect((await store.reactions.parked()).map((p) => p.eventId)).toEqual([badId]));
        await eventually(() => expect(attempts.get('next')).toEqual([1]));
        expect(attempts.get('bad')).toEqual([1, 2, 3]);
        const [parked] = await store.reactions.parked();
        expect(parked).toMatchObject({ attempts: 3, lastError: expect.any(String) });

        // A retry that fails the same way: the event stays parked (one more attempt), and can then be skipped.
        await store.reactions.retry('charge', badId);
        await eventually(async () => expect((await store.reactions.parked())[0]).toMatchObject({ eventId: badId, attempts: 4 }));
        expect(attempts.get('bad')).toEqual([1, 2, 3, 4]);
        await store.reactions.skip('charge', badId);
        expect(await store.reactions.parked()).toEqual([]);
        expect((await store.reactions.status())[0]).toMatchObject({ parked: 0, inFlight: null });
      } finally {
        failRetries = false;
        await store.dispose();
      }
    },
  );
});
